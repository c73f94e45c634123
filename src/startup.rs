//! Building and running the server: database, migrations, actors, HTTP. Tests build the
//! same [`Application`] on port 0, so they exercise exactly what production runs.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use actix_ws::{CloseCode, CloseReason};

use actix::dev::channel;
use actix::{Addr, Arbiter, Context};

use crate::actors::connections::Connections;
use crate::actors::dispatcher::{Dispatcher, DispatcherContext};
use crate::actors::messages::dispatcher::Restored;
use crate::actors::persistence::Persistence;
use crate::actors::scheduler::Scheduler;
use crate::actors::session::{SessionContext, Sessions};
use crate::actors::specialist::Specialists;
use crate::auth::{load_or_create_secret, TokenKeys};
use crate::config::Config;
use crate::db::{self, Db};
use crate::http::{self, rate_limit::Limiters};
use crate::metrics::Metrics;
use crate::search::SearchIndexer;
use crate::state::AppState;
use crate::webhooks::{deliverer, tls, Webhooks};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    dispatcher_thread: StopOnDrop,
    /// Held so the indexer runs as long as the application; none when indexing is off.
    _search_indexer: Option<Addr<SearchIndexer>>,
    deliverer_thread: StopOnDrop,
    mail_thread: StopOnDrop,
}

/// Stops a thread of the application (the dispatcher's, the deliverers') with it, also
/// when a test drops a running application instead of shutting it down.
struct StopOnDrop(Arbiter);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl Application {
    /// Migrates the database, starts the actors and binds the listener. Must be called
    /// inside an actix system.
    pub async fn build(
        config: Config,
    ) -> Result<Application, Box<dyn std::error::Error + Send + Sync>> {
        let config = Arc::new(config);
        let webhook_tls = tls::client_config(config.webhook_ca_file.as_deref())?;
        let url = config.database_url.clone();
        actix_web::rt::task::spawn_blocking(move || db::migrate(&url)).await??;
        std::fs::create_dir_all(config.attachment_dir())?;
        let secret = load_or_create_secret(config.jwt_secret.as_deref(), &config.data_dir)?;

        let metrics = Arc::new(Metrics::default());
        let pool = db::pool(&config.database_url, config.db_pool_size);
        let webhooks = Arc::new(Webhooks::default());
        let subscriptions = webhooks.clone();
        Db::new(pool.clone())
            .run(move |conn| Ok(subscriptions.subscriptions.reload(conn)?))
            .await?;
        let persistence = Persistence::start(
            pool.clone(),
            config.db_writers,
            metrics.clone(),
            webhooks.clone(),
        );
        // Sessions, the dispatcher and the scheduler talk to each other: make the two
        // actors' addresses first, build the sessions' directory with them, then run
        // the actors on those addresses. The dispatcher gets a thread of its own, so
        // walking a long queue never delays commits or frames.
        let (sender, receiver) = channel::channel(16);
        let (scheduler_sender, scheduler_receiver) = channel::channel(16);
        let dispatcher = Addr::new(sender);
        let scheduler = Addr::new(scheduler_sender);
        let db = Db::new(pool);
        let cluster = Arc::new(
            crate::cluster::Cluster::join(
                config.node_id.clone(),
                config.nats_url.as_deref(),
                config.lease(),
            )
            .await?,
        );
        let connections = Arc::new(Connections::new(cluster.clone(), db.clone()));
        let sessions = Sessions::new(SessionContext {
            db: db.clone(),
            persistence: persistence.clone(),
            connections: connections.clone(),
            webhooks: webhooks.clone(),
            dispatcher: Dispatcher::inbox(&dispatcher),
            scheduler: Scheduler::inbox(&scheduler),
            reply_bytes: config.limits.ws_reply_bytes,
            cluster: cluster.clone(),
        });
        let state = AppState {
            limiters: Arc::new(Limiters::new(&config, cluster.clone())),
            logins: Arc::new(crate::auth::LoginGuard::new(
                &config.limits,
                cluster.clone(),
            )),
            config: config.clone(),
            db,
            tokens: TokenKeys::new(&secret),
            persistence,
            specialists: Specialists::new(
                dispatcher.clone(),
                sessions.clone(),
                config.specialist_grace(),
                cluster.clone(),
            ),
            dispatcher,
            connections,
            sessions,
            scheduler,
            metrics,
            webhooks: webhooks.clone(),
            cluster,
            hours: Arc::new(crate::hours::Hours::default()),
        };
        let search_indexer = config
            .search_indexing
            .then(|| SearchIndexer::start(state.db.clone(), state.cluster.clone()));
        crate::attachments::sweep::UnsentUploadSweep::start(state.db.clone(), &config);
        Context::with_receiver(scheduler_receiver).run(Scheduler::new(
            state.db.clone(),
            state.cluster.clone(),
            state.sessions.clone(),
        ));
        // In a cluster the node that takes the dispatcher's role loads the queue then.
        let restored = match state.cluster.is_clustered() {
            true => Restored::default(),
            false => state.db.run(Restored::load).await?,
        };
        let dispatcher_context = DispatcherContext {
            cluster: state.cluster.clone(),
            connections: state.connections.clone(),
            persistence: state.persistence.clone(),
            sessions: state.sessions.clone(),
            auto_accept: config.auto_accept,
            offer_timeout: config.offer_timeout(),
            abandon_after: config.abandon_after(),
            queue_list_max: config.limits.queue_list_max,
        };
        let dispatcher_thread = Arbiter::new();
        dispatcher_thread.spawn_fn(move || {
            Context::with_receiver(receiver).run(Dispatcher::new(dispatcher_context, restored));
        });

        // Events left in the outbox by a crash are delivered from the first poll on.
        let deliverer_thread = deliverer::start(
            state.db.clone(),
            state.cluster.clone(),
            webhooks,
            config.webhook_allow_private,
            webhook_tls,
        );
        // Mail left unsent by a crash or a mail server outage goes from the first poll on.
        let mail_thread = crate::mail::sender::start(
            state.db.clone(),
            state.cluster.clone(),
            config.smtp_url.clone(),
            config.mail_from.clone(),
        );

        let data = web::Data::new(state.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap_fn(http::record_metrics)
                .configure(|cfg| http::configure(cfg, &data.config))
        })
        // Each connection's socket, so a WebSocket whose peer stops reading can be cut.
        .on_connect(crate::socket::record)
        .max_connections(config.max_connections)
        .backlog(4096)
        // Chat frames are small and often come in pairs from different actors (an ack
        // and a queue update); with Nagle the second waits for the client's delayed ACK.
        .tcp_nodelay(true)
        .shutdown_timeout(5)
        // Signals are handled in `run_until_stopped`, which closes WebSockets first.
        .disable_signals();
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        let server = server.bind(config.bind)?;
        let port = server.addrs()[0].port();
        crate::first_run::announce(&state.db, config.bind.ip(), port).await?;
        crate::node::join(&state).await?;
        // Said once the node has joined its cluster: scripts and tests wait for it.
        log::info!("listening on {}:{port}", config.bind.ip());
        Ok(Application {
            port,
            server: server.run(),
            state,
            dispatcher_thread: StopOnDrop(dispatcher_thread),
            _search_indexer: search_indexer,
            deliverer_thread: StopOnDrop(deliverer_thread),
            mail_thread: StopOnDrop(mail_thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully: stop accepting, close
    /// every WebSocket with 1001 after the frames already queued for it, let in-flight
    /// writes finish, stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let connections = self.state.connections.clone();
        let state = self.state.clone();
        // Held until the server has stopped.
        let _dispatcher_thread = self.dispatcher_thread;
        let _deliverer_thread = self.deliverer_thread;
        let _mail_thread = self.mail_thread;
        actix_web::rt::spawn(async move {
            wait_for_signal().await;
            crate::node::leave(&state).await;
            log::info!(
                "shutting down: closing {} connections",
                connections.connection_count()
            );
            connections.close_all(CloseReason {
                code: CloseCode::Away,
                description: Some("server shutting down".into()),
            });
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while connections.connection_count() > 0 && std::time::Instant::now() < deadline {
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            }
            state.cluster.close().await;
            handle.stop(true).await;
        });
        self.server.await
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log::error!("cannot listen for signals; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}
