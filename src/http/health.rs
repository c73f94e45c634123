//! Operational endpoints: liveness, readiness (the database answers, and NATS for a node
//! in a cluster) and metrics (with the node's name).

use actix_web::{get, web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::metrics::PoolState;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, body = Health))
)]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers, and so does NATS when the node is in a cluster.
#[utoipa::path(
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "The database or NATS does not answer", body = Health),
    )
)]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.cluster.nats_connected() == Some(false) {
        return HttpResponse::ServiceUnavailable().json(Health {
            status: "nats unavailable",
        });
    }
    let probe = state
        .db
        .run(|conn| {
            conn.batch_execute("SELECT 1")
                .map_err(crate::error::Error::from)
        })
        .await;
    match probe {
        Ok(()) => HttpResponse::Ok().json(Health { status: "ready" }),
        Err(_) => HttpResponse::ServiceUnavailable().json(Health {
            status: "database unavailable",
        }),
    }
}

/// Prometheus metrics.
#[utoipa::path(
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format",
        body = String, content_type = "text/plain"))
)]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.db.pool().state();
    let mut body = state.metrics.render(PoolState {
        connections: pool.connections,
        idle: pool.idle_connections,
        max: state.db.pool().max_size(),
    });
    let cluster = &state.cluster;
    body.push_str(&format!(
        "# TYPE switchboard_node_info gauge\nswitchboard_node_info{{node_id=\"{}\"}} 1\n\
         # TYPE switchboard_sessions_owned gauge\nswitchboard_sessions_owned {}\n\
         # TYPE switchboard_dispatcher_running gauge\nswitchboard_dispatcher_running {}\n\
         # TYPE switchboard_node_messages_sent_total counter\n\
         switchboard_node_messages_sent_total {}\n",
        cluster.node_id,
        state.sessions.running_count(),
        u8::from(cluster.leads()),
        cluster.sent.load(std::sync::atomic::Ordering::Relaxed),
    ));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
