import Head from 'next/head';
import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="center-page">
      <Head>
        <title>Not found · Airlock</title>
      </Head>
      <main className="card narrow" id="main">
        <h1>Page not found</h1>
        <p className="muted">There is nothing at this address.</p>
        <Link className="btn btn-primary" href="/">
          Go to runs
        </Link>
      </main>
    </div>
  );
}
