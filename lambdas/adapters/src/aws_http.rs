//! The AWS SDK's HTTP client: the process's one reqwest client (and so its one TLS
//! configuration, whose roots load on the first handshake), instead of the SDK's own hyper and
//! rustls stack, which loaded the system's root certificates a second time during every cold
//! start.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Headers, StatusCode};
use aws_smithy_types::body::SdkBody;

/// An SDK HTTP client sending through `http`. Every SDK request this system makes (SQS,
/// DynamoDB, Secrets Manager) has a small in-memory body; a streaming one is refused.
pub fn sdk_http_client(http: reqwest::Client) -> SharedHttpClient {
    SharedHttpClient::new(ReqwestClient { http })
}

#[derive(Debug, Clone)]
struct ReqwestClient {
    http: reqwest::Client,
}

impl HttpClient for ReqwestClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(ReqwestConnector {
            http: self.http.clone(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug)]
struct ReqwestConnector {
    http: reqwest::Client,
    read_timeout: Option<std::time::Duration>,
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match self.build(request) {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(e)),
        };
        let http = self.http.clone();
        HttpConnectorFuture::new(async move {
            let response = http.execute(request).await.map_err(connector_error)?;
            let status = StatusCode::try_from(response.status().as_u16())
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let headers = Headers::try_from(response.headers().clone())
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let body = response.bytes().await.map_err(connector_error)?;
            let mut out = HttpResponse::new(status, SdkBody::from(body));
            *out.headers_mut() = headers;
            Ok(out)
        })
    }
}

impl ReqwestConnector {
    fn build(&self, request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
        let request = request
            .try_into_http1x()
            .map_err(|e| ConnectorError::user(e.into()))?;
        let (parts, body) = request.into_parts();
        let bytes = body.bytes().ok_or_else(|| {
            ConnectorError::user("a streaming request body cannot be sent by this client".into())
        })?;
        let mut builder = self
            .http
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(bytes.to_vec());
        if let Some(timeout) = self.read_timeout {
            builder = builder.timeout(timeout);
        }
        builder.build().map_err(|e| ConnectorError::user(e.into()))
    }
}

/// The SDK retries timeouts and I/O errors, not a request it could not build.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}
