import { useEffect, useState } from 'preact/hooks';
import { api, ApiFailure, keyStore, onUnauthorized } from './api';
import { useRoute, type Route } from './router';
import { SignIn } from './views/sign-in';
import { Overview } from './views/overview';
import { Tasks } from './views/tasks';
import { TaskDetail } from './views/task-detail';
import { DeadLetters } from './views/dead-letters';

type Session = 'checking' | 'signed-out' | 'signed-in';

/**
 * The shell: decides between the sign-in view and the console, and draws the header and the
 * current view. Signed in means the API did not answer 401 to the key held (or to no key, when
 * the API runs without keys): a key that lacks a scope still gets in, and each page says what it
 * may not see.
 */
export function App() {
  const [session, setSession] = useState<Session>('checking');
  const [problem, setProblem] = useState<string | null>(null);
  const route = useRoute();

  useEffect(() => {
    onUnauthorized(() => {
      keyStore.clear();
      setSession('signed-out');
    });
    const key = keyStore.get();
    api('GET', '/v1/tasks?limit=1', { key, handle401: true })
      .then(() => setSession('signed-in'))
      .catch((err: unknown) => {
        if (err instanceof ApiFailure && err.status === 401) {
          if (keyStore.get() === key) keyStore.clear();
          setSession('signed-out');
        } else {
          // Not a refusal of the key (a 403, a 503, no answer): the views say what is wrong.
          if (err instanceof ApiFailure && err.status === 0) setProblem(err.message);
          setSession('signed-in');
        }
      });
  }, []);

  useEffect(() => {
    document.title = session === 'signed-in' ? `${titleOf(route)} · Spillway console` : 'Spillway console';
  }, [session, route]);

  if (session === 'checking') return <p class="boot muted">Loading the console…</p>;
  if (session === 'signed-out') return <SignIn onSignedIn={() => setSession('signed-in')} />;

  const signOut = () => {
    keyStore.clear();
    setSession('signed-out');
  };
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="#/overview">
          <span class="brand-mark" aria-hidden="true" />
          Spillway
        </a>
        <nav aria-label="Console">
          <NavLink route={route} to="overview" label="Overview" />
          <NavLink route={route} to="tasks" label="Tasks" />
          <NavLink route={route} to="dead-letters" label="Dead letters" />
        </nav>
        <button type="button" class="button button-quiet signout" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {problem && (
          <div role="alert" class="notice notice-error">
            {problem}
          </div>
        )}
        <View route={route} />
      </main>
    </div>
  );
}

function View(props: { route: Route }) {
  const { route } = props;
  switch (route.view) {
    case 'overview':
      return <Overview />;
    case 'tasks':
      return <Tasks params={route.params} />;
    case 'task':
      return <TaskDetail key={route.id} id={route.id} />;
    case 'dead-letters':
      return <DeadLetters params={route.params} />;
    default:
      return (
        <div class="page">
          <h1>Page not found</h1>
          <p>
            There is no such page in the console. Go to the <a href="#/overview">overview</a>.
          </p>
        </div>
      );
  }
}

function NavLink(props: { route: Route; to: 'overview' | 'tasks' | 'dead-letters'; label: string }) {
  const current = props.route.view === props.to || (props.to === 'tasks' && props.route.view === 'task');
  return (
    <a href={`#/${props.to}`} class="navlink" aria-current={current ? 'page' : undefined}>
      {props.label}
    </a>
  );
}

function titleOf(route: Route): string {
  if (route.view === 'task') return `Task ${route.id}`;
  if (route.view === 'tasks') return 'Tasks';
  if (route.view === 'dead-letters') return 'Dead letters';
  return 'Overview';
}

/** The hash is the router's: move focus to the content without changing the route. */
function skipToMain(event: Event): void {
  event.preventDefault();
  document.getElementById('main')?.focus();
}
