// The services of the catalog (.airlock/catalog.yml), generated when the
// site is built: adding a service is a pull request to that file.
import type { GetStaticProps } from 'next';
import { Layout } from '../../components/Layout.tsx';
import { ServiceList } from '../../components/ServiceList.tsx';
import { Empty } from '../../components/States.tsx';
import type { Service } from '../../lib/catalog.ts';
import { loadCatalog } from '../../lib/catalogFile.ts';

interface Props {
  services: Service[];
}

export const getStaticProps: GetStaticProps<Props> = async () => ({ props: { services: loadCatalog().services } });

export default function Services({ services }: Props) {
  return (
    <Layout title="Services">
      <div className="page-head">
        <h1>Services</h1>
        <span className="muted">{services.length} in the catalog</span>
      </div>
      <p className="muted intro">
        From <code>.airlock/catalog.yml</code>, as of this build. To add a service or change one, open a pull request to that file.
      </p>
      {services.length === 0 ? <Empty title="The catalog lists no service" /> : <ServiceList services={services} />}
    </Layout>
  );
}
