//! How every route is registered, so that each path answers the same way to methods
//! it does not serve: `Endpoint` serves HEAD wherever it serves GET (RFC 9110 §9.3.2:
//! the GET handler runs and actix-web sends its status and headers without the
//! content), and answers any other method — TRACE and OPTIONS included — 405 with an
//! `Allow` header listing what the path serves (RFC 9110 §15.5.6), in the error shape
//! of its API. Forward-auth is the one route that takes any method, by design; it
//! does not use this.

use actix_web::dev::HttpServiceFactory;
use actix_web::{web, FromRequest, Handler, HttpResponse, Resource, Responder};

use crate::error::ApiError;
use crate::oauth::error::OAuthError;

/// Which error body a 405 carries: the management envelope, or RFC 6749's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Api,
    OAuth,
}

/// One path and the methods it serves; register it with `cfg.service(endpoint)`.
pub struct Endpoint {
    resource: Resource,
    allow: Vec<&'static str>,
    shape: Shape,
}

impl Endpoint {
    /// A path whose 405 is the management API's envelope (`/v1/*`, the metadata
    /// documents, health, metrics).
    pub fn new(path: &str) -> Self {
        Self::with_shape(path, Shape::Api)
    }

    /// A path under `/oauth/`, whose 405 is an RFC 6749 `invalid_request`.
    pub fn oauth(path: &str) -> Self {
        Self::with_shape(path, Shape::OAuth)
    }

    fn with_shape(path: &str, shape: Shape) -> Self {
        Self {
            resource: web::resource(path),
            allow: Vec::new(),
            shape,
        }
    }

    /// GET, and HEAD with the same handler (the server drops the body).
    pub fn get<F, Args>(mut self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self
            .resource
            .route(web::get().to(handler.clone()))
            .route(web::head().to(handler));
        self.allow.extend(["GET", "HEAD"]);
        self
    }

    pub fn post<F, Args>(mut self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::post().to(handler));
        self.allow.push("POST");
        self
    }

    pub fn put<F, Args>(mut self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::put().to(handler));
        self.allow.push("PUT");
        self
    }

    pub fn patch<F, Args>(mut self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::patch().to(handler));
        self.allow.push("PATCH");
        self
    }

    pub fn delete<F, Args>(mut self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::delete().to(handler));
        self.allow.push("DELETE");
        self
    }

    /// The `Allow` value of this path's 405s.
    pub fn allow(&self) -> String {
        self.allow.join(", ")
    }
}

impl HttpServiceFactory for Endpoint {
    fn register(self, config: &mut actix_web::dev::AppService) {
        let allow = self.allow();
        let shape = self.shape;
        let resource = self.resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                match shape {
                    Shape::Api => Err::<HttpResponse, actix_web::Error>(
                        ApiError::MethodNotAllowed { allow }.into(),
                    ),
                    Shape::OAuth => Err(OAuthError::method_not_allowed(allow).into()),
                }
            }
        }));
        HttpServiceFactory::register(resource, config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::{header, Method, StatusCode};
    use actix_web::{test, App};

    async fn ok() -> HttpResponse {
        HttpResponse::Ok().body("content")
    }

    #[actix_web::test]
    async fn head_follows_get_and_other_methods_are_405_with_allow() {
        let app = test::init_service(
            App::new()
                .service(Endpoint::new("/a").get(ok).delete(ok))
                .service(Endpoint::oauth("/oauth/b").post(ok)),
        )
        .await;
        let call = |method: Method, path: &'static str| {
            test::TestRequest::default()
                .method(method)
                .uri(path)
                .to_request()
        };
        let head = test::call_service(&app, call(Method::HEAD, "/a")).await;
        assert_eq!(head.status(), StatusCode::OK);
        for (method, path, allow) in [
            (Method::TRACE, "/a", "GET, HEAD, DELETE"),
            (Method::POST, "/a", "GET, HEAD, DELETE"),
            (Method::GET, "/oauth/b", "POST"),
            (Method::HEAD, "/oauth/b", "POST"),
            (Method::TRACE, "/oauth/b", "POST"),
        ] {
            let response = test::call_service(&app, call(method.clone(), path)).await;
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(
                response.headers().get(header::ALLOW).unwrap(),
                allow,
                "{method} {path}"
            );
        }
    }
}
