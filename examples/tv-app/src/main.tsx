import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { readConfig } from './config.js';
import { NeedsServer } from './NeedsServer.js';
import './styles.css';

const read = readConfig(location.search);
const root = createRoot(document.getElementById('root')!);
// The flow's component is not even mounted without a complete configuration: no request can leave the page.
root.render(read.ok ? <App config={read.config} /> : <NeedsServer problems={read.problems} page={`${location.origin}${location.pathname}`} />);
