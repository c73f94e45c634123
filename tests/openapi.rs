//! The OpenAPI document (`GET /api/v1/openapi.json`) against the routes the server
//! really has: every route declared in `src/http` is documented, and every documented
//! operation is routed, so the document cannot drift from the code.

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use serde_json::Value;

/// Modules whose routes are not part of the HTTP API document: the WebSocket upgrade
/// (described by SPEC section 4, not by OpenAPI) and the web pages and their assets
/// (SPEC section 7).
const NOT_DOCUMENTED: &[&str] = &["ws", "pages"];
const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

type Operation = (String, String);

/// `(METHOD, path)` of every route declared with actix's route macros in `src/http`,
/// with the `/api/v1` prefix for the modules mounted in that scope (read from
/// `src/http/mod.rs`).
fn declared_routes() -> BTreeSet<Operation> {
    let http = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    let mounting = std::fs::read_to_string(format!("{http}/mod.rs")).unwrap();
    let scope = mounting
        .split("web::scope(\"/api/v1\")")
        .nth(1)
        .and_then(|rest| rest.split(".default_service(").next())
        .expect("the /api/v1 scope in src/http/mod.rs");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(http).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        if NOT_DOCUMENTED.contains(&module.as_str()) {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        assert!(
            !source.contains("web::resource(") && !source.contains(".route("),
            "{module}: declare routes with the method macros so this test sees them"
        );
        let prefix = if scope.contains(&format!("{module}::configure")) {
            "/api/v1"
        } else {
            ""
        };
        for line in source.lines().map(str::trim) {
            for method in METHODS {
                if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                    let route = rest.split('"').next().unwrap();
                    routes.insert((method.to_uppercase(), format!("{prefix}{route}")));
                }
            }
        }
    }
    routes
}

fn documented(document: &Value) -> BTreeSet<Operation> {
    document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .keys()
                .filter(|method| METHODS.contains(&method.as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

async fn document(app: &TestApp) -> Value {
    let (status, document) = app.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    document
}

#[actix_web::test]
async fn the_document_is_openapi_3_1_and_lists_every_route() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let operation_ids: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|operations| operations.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().expect("an operationId"))
        .collect();
    let unique: BTreeSet<&str> = operation_ids.iter().copied().collect();
    assert_eq!(unique.len(), operation_ids.len(), "operationIds are unique");

    let declared = declared_routes();
    assert!(
        declared.len() >= 20,
        "the scan found the routes: {declared:?}"
    );
    assert_eq!(documented(&document), declared);
    for required in [
        ("POST", "/api/v1/sessions"),
        ("POST", "/api/v1/sessions/{id}/messages"),
        ("GET", "/api/v1/sessions/{id}/transcript"),
        ("POST", "/api/v1/sessions/{id}/attachments"),
        ("GET", "/api/v1/attachments/{id}"),
        ("GET", "/api/v1/stats"),
        ("GET", "/api/v1/openapi.json"),
    ] {
        assert!(
            declared.contains(&(required.0.to_owned(), required.1.to_owned())),
            "{required:?}"
        );
    }
}

/// A request the router had no route for: the API's JSON 404 or the plain one outside it.
fn unrouted(status: u16, body: &str) -> bool {
    status == 404 && (body == "not found" || body.contains("no such route"))
}

#[actix_web::test]
async fn every_documented_operation_is_served_and_no_other_method() {
    let app = TestApp::spawn().await;
    let operations = documented(&document(&app).await);
    let paths: BTreeSet<&String> = operations.iter().map(|(_, path)| path).collect();
    for path in paths {
        let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
        for method in METHODS {
            let method = method.to_uppercase();
            let mut response = app
                .client
                .request(
                    awc::http::Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(&concrete),
                )
                .send()
                .await
                .expect("request reaches the server");
            let status = response.status().as_u16();
            let body = response.body().limit(1 << 20).await.unwrap();
            let body = String::from_utf8_lossy(&body);
            let is_documented = operations.contains(&(method.clone(), path.clone()));
            assert_eq!(
                !unrouted(status, &body),
                is_documented,
                "{method} {path}: {status} {body}"
            );
        }
    }
}
