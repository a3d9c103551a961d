import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { readConfig } from './config.js';
import './styles.css';

const config = readConfig(location.search);
const root = createRoot(document.getElementById('root')!);
root.render(config ? <App config={config} /> : <p className="message">Open this page with ?authorizationUrl=…&amp;tokenUrl=…&amp;clientId=…</p>);
