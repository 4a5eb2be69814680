import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Runs DynamoDB Local listening on 127.0.0.1 only. DynamoDB Local has no
 * host option: its Jetty server binds every interface, so anyone who can
 * reach the machine could read the log and write API keys. This launcher
 * builds the server exactly as DynamoDB Local's own main does, from the same
 * arguments, and sets its connector's host to loopback before it starts.
 * Run in Java's source-file mode (local/emulators.ts).
 */
public class LoopbackDynamoDbLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        int bound = 0;
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector) {
                ((ServerConnector) connector).setHost("127.0.0.1");
                bound++;
            }
        }
        if (bound == 0) throw new IllegalStateException("DynamoDB Local has no connector to bind to 127.0.0.1");
        proxy.start();
        System.out.println("Listening on 127.0.0.1 only");
        proxy.join();
    }
}
