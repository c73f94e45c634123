//! The TLS settings of webhook deliveries: the Mozilla root certificates compiled into
//! the binary (so the server needs no certificate store on its host), plus any
//! certificate authorities an operator trusts on top, such as a company's internal CA
//! for receivers on its own network.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{pem::PemObject, CertificateDer};
use rustls::{ClientConfig, RootCertStore};

/// A client configuration trusting the public roots and every certificate in `extra_ca`
/// (a PEM file); fails when that file cannot be read or holds no usable certificate.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca {
        let shown = path.display();
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("webhook CA file {shown}: {e}"))?;
        let (added, _) = roots.add_parsable_certificates(certificates);
        if added == 0 {
            return Err(format!("webhook CA file {shown}: no usable certificate"));
        }
    }
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Deliveries are single POSTs on HTTP/1.1; the client does not speak h2 to receivers.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
