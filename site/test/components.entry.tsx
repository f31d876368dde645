// What components.test.ts renders: the components and React's server
// renderer, bundled by render.ts into one CommonJS file (Node cannot run
// JSX, and one bundle means one copy of React).
export { createElement } from 'react';
export { renderToStaticMarkup } from 'react-dom/server';
export { AgentCard } from '../components/AgentCard.tsx';
export { Graph } from '../components/Graph.tsx';
export { LogLine, LogPanel } from '../components/LogPanel.tsx';
export { RunsTable } from '../components/RunsTable.tsx';
export { ServiceList } from '../components/ServiceList.tsx';
export { SessionTable } from '../components/SessionTable.tsx';
export { StateBadge } from '../components/StateBadge.tsx';
export { Empty, ErrorBox } from '../components/States.tsx';
export { LogModel } from '../lib/logmodel.ts';
