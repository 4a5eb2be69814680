import { useEffect, useMemo, useState } from 'preact/hooks';
import { GroupList, GroupView } from './groups';
import { PublishForm } from './publish';
import { busClient, storedKey, storeKey } from './session';
import { TopicList, TopicView } from './topics';

/** The view a location hash names: `#/topics`, `#/topics/orders`, `#/groups/billing`, `#/publish`. */
function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

/** The console: the key field, the navigation, and the view the hash names. */
export function App() {
  const [key, setKey] = useState(storedKey);
  const [typed, setTyped] = useState(key);
  const route = useRoute();
  const bus = useMemo(() => (key ? busClient(key) : undefined), [key]);
  const use = (event: Event) => {
    event.preventDefault();
    storeKey(typed.trim());
    setKey(typed.trim());
  };
  const [section, name] = route;
  return (
    <>
      <header>
        <h1>eventbus</h1>
        <nav>
          <a href="#/topics" class={section === 'topics' || !section ? 'here' : ''}>
            Topics
          </a>
          <a href="#/groups" class={section === 'groups' ? 'here' : ''}>
            Consumer groups
          </a>
          <a href="#/publish" class={section === 'publish' ? 'here' : ''}>
            Publish
          </a>
        </nav>
        <form class="key" onSubmit={use}>
          <label for="key">API key</label>
          <input
            id="key"
            name="key"
            type="password"
            autocomplete="off"
            value={typed}
            onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
          />
          <button type="submit">Use key</button>
          {key && (
            <button
              type="button"
              class="secondary"
              onClick={() => {
                storeKey('');
                setKey('');
                setTyped('');
              }}
            >
              Forget
            </button>
          )}
        </form>
      </header>
      <main>
        {!bus ? (
          <p class="intro">
            Enter an API key above. It stays in this tab's session storage and is sent only as the
            Authorization header to this bus; the console shows what that key may see.
          </p>
        ) : section === 'groups' && name ? (
          <GroupView key={name} bus={bus} group={name} />
        ) : section === 'groups' ? (
          <GroupList bus={bus} />
        ) : section === 'publish' ? (
          <PublishForm bus={bus} initialTopic={name} />
        ) : section === 'topics' && name ? (
          <TopicView key={name} bus={bus} name={name} />
        ) : (
          <TopicList bus={bus} />
        )}
      </main>
    </>
  );
}
