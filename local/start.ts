/** `npm start`: the bus on this machine, until Ctrl-C or SIGTERM. */
import { runLocalBus } from './main';

runLocalBus();
