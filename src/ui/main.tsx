import { createRoot } from 'react-dom/client';

function App() {
  return <h1>Prunability Lab</h1>;
}

createRoot(document.getElementById('root')!).render(<App />);
