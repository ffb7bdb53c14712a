//! RFC 9728 protected-resource metadata: which of the resources keygate issues tokens
//! for it describes publicly — `default_audience` and `management_audience`, the two
//! the configuration names (each client's other audiences are its own, not a public
//! list) — their documents at `/.well-known/oauth-protected-resource[/<path>]`, and
//! the URL of a resource's document that forward-auth's 401 challenges name
//! (`resource_metadata`, RFC 9728 §5.1).
//!
//! Lookup is exact string comparison against the configured audiences, nothing is
//! parsed out of the request path: the path-suffixed URL this module hands out for a
//! resource is the one that finds it again.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use crate::config::Settings;
use crate::error::ApiError;

/// The well-known path of the documents (RFC 9728 §3); a resource URL's path goes
/// after it (§3.1).
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The RFC 9728 §2 document, as `ProtectedResources` builds it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ResourceMetadata {
    /// The resource identifier, exactly as configured: the `aud` of its tokens and
    /// the `resource` a client names at the token endpoint (RFC 8707).
    #[schema(example = "https://api.example.com")]
    resource: String,
    /// keygate's issuer, the only one.
    #[schema(example = json!(["https://auth.example.com"]))]
    authorization_servers: Vec<String>,
    /// The configured scopes.
    scopes_supported: Vec<String>,
    /// Always `["header"]`: `Authorization: Bearer` (or `X-API-Key`, which RFC 9728
    /// has no name for).
    #[schema(example = json!(["header"]))]
    bearer_methods_supported: Vec<String>,
}

/// The resources described, their documents rendered once at start-up.
pub struct ProtectedResources {
    /// The issuer without a trailing slash: the origin the documents are served on.
    base: String,
    /// `default_audience`, then `management_audience`.
    resources: [Described; 2],
}

struct Described {
    resource: String,
    /// The path its document is served under after `WELL_KNOWN/`, if it has one.
    suffix: Option<String>,
    document: String,
}

impl ProtectedResources {
    pub fn new(settings: &Settings) -> Self {
        let base = settings.issuer_base().to_owned();
        let describe = |resource: String| Described {
            suffix: suffix(&resource),
            document: document(settings, &resource).to_string(),
            resource,
        };
        Self {
            resources: [
                describe(settings.audience().to_owned()),
                describe(settings.management_audience()),
            ],
            base,
        }
    }

    /// The document served at `WELL_KNOWN` itself: the default resource's.
    fn default_resource(&self) -> &Described {
        &self.resources[0]
    }

    /// The resource whose document `WELL_KNOWN/{rest}` serves: the one that is
    /// exactly the issuer's origin + `/{rest}`, else the one whose URL path is
    /// `/{rest}` (an audience on another host, e.g. behind a gateway) — the
    /// management one where both have that path, as the default one has the bare URL.
    fn find(&self, rest: &str) -> Option<&Described> {
        let on_our_origin = format!("{}/{rest}", self.base);
        self.resources
            .iter()
            .find(|r| r.resource == on_our_origin)
            .or_else(|| {
                self.resources
                    .iter()
                    .rev()
                    .find(|r| r.suffix.as_deref() == Some(rest))
            })
    }

    /// The URL of the document describing the resource tokens must be for, for a
    /// 401's `resource_metadata`: with one audience required that is a known
    /// resource other than the default, its path-suffixed document; otherwise (the
    /// default resource, an unknown audience, or several, which no single token
    /// satisfies) the default resource's.
    pub fn metadata_url(&self, audiences: &[String]) -> String {
        let bare = format!("{}{WELL_KNOWN}", self.base);
        let [audience] = audiences else {
            return bare;
        };
        if *audience == self.default_resource().resource {
            return bare;
        }
        self.resources
            .iter()
            .find(|r| r.resource == *audience)
            .and_then(|r| r.suffix.as_deref())
            // Only a URL that serves this resource's own document: a suffix shadowed
            // by the other resource's URL is not one.
            .filter(|suffix| self.find(suffix).is_some_and(|r| r.resource == *audience))
            .map_or(bare, |suffix| format!("{}{WELL_KNOWN}/{suffix}", self.base))
    }
}

/// The path of `resource` (without its leading `/`) when it is an http(s) URL with a
/// host, a path and neither query nor fragment — the part RFC 9728 §3.1 puts after
/// the well-known name; otherwise none, and only its exact URL finds it.
fn suffix(resource: &str) -> Option<String> {
    let url = url::Url::parse(resource).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return None;
    }
    let path = url.path().strip_prefix('/')?;
    (!path.is_empty()).then(|| path.to_owned())
}

/// RFC 9728 §2 for one resource. `jwks_uri` is the authorization server's (RFC
/// 8414), not a key set of the resource's own, so it is not here.
fn document(settings: &Settings, resource: &str) -> serde_json::Value {
    serde_json::json!({
        "resource": resource,
        "authorization_servers": [settings.issuer.as_str()],
        "scopes_supported": settings.scopes.iter().collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
    })
}

fn respond(described: &Described) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(described.document.clone())
}

/// GET /.well-known/oauth-protected-resource — public (RFC 9728 §3): the default
/// resource's metadata.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-protected-resource",
    tag = "oauth",
    responses((status = 200, description = "RFC 9728 metadata of default_audience", body = ResourceMetadata))
)]
pub async fn get_resource_metadata(
    resources: actix_web::web::Data<ProtectedResources>,
) -> HttpResponse {
    respond(resources.default_resource())
}

/// GET /.well-known/oauth-protected-resource/{resource_path} — public (RFC 9728
/// §3.1): the metadata of `default_audience` or `management_audience` when its path
/// is `/{resource_path}`, else 404.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-protected-resource/{resource_path}",
    tag = "oauth",
    params(("resource_path" = String, Path, description = "The resource URL's path, without its leading slash (e.g. `v1` for management_audience `<issuer>/v1`)")),
    responses(
        (status = 200, description = "RFC 9728 metadata of that resource", body = ResourceMetadata),
        (status = 404, description = "not_found: no resource keygate describes has this path", body = crate::error::Envelope),
    )
)]
pub async fn get_resource_path_metadata(
    req: HttpRequest,
    resources: actix_web::web::Data<ProtectedResources>,
) -> Result<HttpResponse, ApiError> {
    // The path as sent, not as the router decoded it: the comparison is exact.
    let rest = req
        .uri()
        .path()
        .strip_prefix(WELL_KNOWN)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or(ApiError::NotFound)?;
    resources.find(rest).map(respond).ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(default: Option<&str>, management: Option<&str>) -> ProtectedResources {
        ProtectedResources::new(&Settings {
            issuer: "https://auth.example.com".parse().unwrap(),
            default_audience: default.map(str::to_owned),
            management_audience: management.map(str::to_owned),
            ..Settings::default()
        })
    }

    fn served(resources: &ProtectedResources, url: &str) -> Option<String> {
        let path = url.strip_prefix("https://auth.example.com").unwrap();
        let rest = path.strip_prefix(WELL_KNOWN).unwrap();
        let found = match rest.strip_prefix('/') {
            None if rest.is_empty() => Some(resources.default_resource()),
            None => None,
            Some(rest) => resources.find(rest),
        };
        found.map(|r| r.resource.clone())
    }

    #[test]
    fn each_resource_url_serves_its_own_document() {
        let bare = "https://auth.example.com/.well-known/oauth-protected-resource";
        for (default, management) in [
            (None, None),
            (Some("https://api.example.com"), None),
            (
                Some("https://api.example.com/v2"),
                Some("https://auth.example.com/manage"),
            ),
            // The same path on two hosts: the default one is served by the bare URL.
            (Some("https://api.example.com/v1"), None),
            (
                Some("https://api.example.com/x"),
                Some("https://other.example.com/x"),
            ),
            (Some("urn:example:api"), Some("https://manage.example.com")),
        ] {
            let resources = resources(default, management);
            for resource in resources.resources.iter().map(|r| r.resource.clone()) {
                let url = resources.metadata_url(std::slice::from_ref(&resource));
                let served = served(&resources, &url).unwrap();
                if served != resource {
                    // Only a resource without a URL of its own falls back to the bare one.
                    assert_eq!(url, bare, "{resource}");
                    assert_eq!(served, resources.default_resource().resource);
                }
            }
        }
        let defaults = resources(None, None);
        assert_eq!(
            defaults.metadata_url(&["https://auth.example.com/v1".into()]),
            format!("{bare}/v1")
        );
        assert_eq!(
            defaults.metadata_url(&["https://auth.example.com".into()]),
            bare
        );
        assert_eq!(
            defaults.metadata_url(&["https://unknown.example".into()]),
            bare
        );
        assert_eq!(defaults.metadata_url(&[]), bare);
        let two = ["https://auth.example.com/v1".into(), "https://x".into()];
        assert_eq!(defaults.metadata_url(&two), bare);
    }

    #[test]
    fn only_exact_paths_are_known() {
        let resources = resources(Some("https://api.example.com/orders"), None);
        assert_eq!(
            resources.find("orders").map(|r| r.resource.as_str()),
            Some("https://api.example.com/orders")
        );
        assert_eq!(
            resources.find("v1").map(|r| r.resource.as_str()),
            Some("https://auth.example.com/v1")
        );
        for unknown in [
            "",
            "/",
            "v1/",
            "V1",
            "%76%31",
            "orders/..",
            "../v1",
            "v1?x",
            "v1%00",
            "%ZZ",
            "\u{0}",
            "v1/../v1",
        ] {
            assert!(resources.find(unknown).is_none(), "{unknown:?}");
        }
    }

    #[test]
    fn the_document_has_rfc_9728_members_only() {
        let resources = resources(Some("https://api.example.com"), None);
        let document: serde_json::Value =
            serde_json::from_str(&resources.default_resource().document).unwrap();
        assert_eq!(
            document,
            serde_json::json!({
                "resource": "https://api.example.com",
                "authorization_servers": ["https://auth.example.com"],
                "scopes_supported": ["admin", "read", "webhook", "write"],
                "bearer_methods_supported": ["header"],
            })
        );
    }
}
