//! Prometheus metrics, served at `GET /metrics` in the text exposition format: requests
//! by route pattern, method and status with a latency histogram, token issuance by
//! grant and outcome, identity-resolver outcomes by credential kind and code, the
//! argon2 queue and the database pool.
//!
//! Every label value comes from a closed set — route patterns registered in the app
//! (else `unmatched`), the standard HTTP methods (else `other`), status codes and
//! fixed codes — never from what a caller sent: a label set lives as long as the
//! process, so one per made-up method or path would grow `/metrics` and memory
//! without bound.

use actix_web::{web, HttpResponse};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::argon2_budget::Argon2Budget;
use crate::store::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// A registered route pattern, or `UNMATCHED`.
    pub route: String,
    /// See `method_label`.
    pub method: &'static str,
    pub status: u16,
}

/// The route label of a request no registered route matched (whatever its path).
pub const UNMATCHED: &str = "unmatched";

/// The method label: the method's name if it is one of RFC 9110's (and PATCH),
/// else `other`. HTTP lets a caller send any token as a method.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// As `RequestLabels::route`.
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub grant: &'static str,
    /// `issued`, or the RFC 6749 error code.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResolverLabels {
    /// `api_key`, `access_token`, or `none` when no credential could be classified.
    pub credential: &'static str,
    /// `ok`, or the error envelope's code.
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    tokens: Family<TokenLabels, Counter>,
    resolver: Family<ResolverLabels, Counter>,
    argon2_waiting: Gauge,
    db_connections: Gauge,
    db_idle: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("keygate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route pattern, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 50 µs to ~1.6 s.
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route pattern",
            latency.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens",
            "Token requests by grant and outcome",
            tokens.clone(),
        );
        let resolver = Family::<ResolverLabels, Counter>::default();
        registry.register(
            "resolver_outcomes",
            "Identity-resolver outcomes by credential kind and code",
            resolver.clone(),
        );
        let argon2_waiting = Gauge::default();
        registry.register(
            "argon2_waiting",
            "Client-secret verifications waiting for an argon2 slot",
            argon2_waiting.clone(),
        );
        let db_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections",
            db_connections.clone(),
        );
        let db_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            db_idle.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            tokens,
            resolver,
            argon2_waiting,
            db_connections,
            db_idle,
        }
    }
}

impl Metrics {
    /// Counts a request. `route` is the pattern of the route that matched it (actix's
    /// `match_pattern`, a closed set), `None` for none.
    pub fn request(
        &self,
        route: Option<&str>,
        method: &actix_web::http::Method,
        status: u16,
        seconds: f64,
    ) {
        let route = route.unwrap_or(UNMATCHED);
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method_label(method),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn token(&self, grant: &'static str, outcome: &'static str) {
        self.tokens
            .get_or_create(&TokenLabels { grant, outcome })
            .inc();
    }

    pub fn resolved(&self, credential: &'static str, outcome: &'static str) {
        self.resolver
            .get_or_create(&ResolverLabels {
                credential,
                outcome,
            })
            .inc();
    }

    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// GET /metrics — public on the listening address: scrape it from inside, and keep it
/// from the internet at the proxy (it names routes and counts, no ids or secrets).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 500, description = "The metrics could not be rendered (empty body)"),
    )
)]
pub async fn get_metrics(
    metrics: web::Data<Metrics>,
    argon2: web::Data<Argon2Budget>,
    store: web::Data<Store>,
) -> HttpResponse {
    metrics
        .argon2_waiting
        .set(i64::try_from(argon2.queued()).unwrap_or(i64::MAX));
    let (connections, idle) = store.pool_state();
    metrics.db_connections.set(i64::from(connections));
    metrics.db_idle.set(i64::from(idle));
    match metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::Endpoint::new("/metrics").get(get_metrics));
}
