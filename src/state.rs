//! What every HTTP handler and WebSocket connection shares: settings, the database, the
//! token keys, the actors' addresses, the metrics and the webhook subscriptions.

use std::sync::Arc;

use actix::Addr;

use crate::actors::connections::Connections;
use crate::actors::dispatcher::Dispatcher;
use crate::actors::persistence::Persistence;
use crate::actors::scheduler::Scheduler;
use crate::actors::session::Sessions;
use crate::actors::specialist::Specialists;
use crate::auth::TokenKeys;
use crate::config::Config;
use crate::db::Db;
use crate::http::rate_limit::Limiters;
use crate::metrics::Metrics;
use crate::webhooks::Webhooks;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub tokens: TokenKeys,
    pub persistence: Persistence,
    pub dispatcher: Addr<Dispatcher>,
    pub connections: Arc<Connections>,
    pub sessions: Sessions,
    pub specialists: Specialists,
    pub scheduler: Addr<Scheduler>,
    pub metrics: Arc<Metrics>,
    pub limiters: Arc<Limiters>,
    /// Failed-login counts and the turns to verify a password.
    pub logins: Arc<crate::auth::LoginGuard>,
    pub webhooks: Arc<Webhooks>,
    /// This node, and its link to the others.
    pub cluster: Arc<crate::cluster::Cluster>,
    /// Business hours, as the requests of this node read them.
    pub hours: Arc<crate::hours::Hours>,
}
