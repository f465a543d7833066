import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './styles/base.css';
import './styles/tables.css';
import './styles/forms.css';
import './styles/views.css';
import { App } from './app';

// The one script index.html loads (services/api/console/build.mjs bundles from here).
render(<App />, document.getElementById('app')!);
