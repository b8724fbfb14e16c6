import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { useConnectionStore } from './stores/connection-store.js';
import { linkStores } from './stores/store-links.js';
import './styles.css';

linkStores();
void useConnectionStore.getState().connect();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
