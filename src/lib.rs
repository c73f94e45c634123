//! Switchboard: a real-time live-chat support server. See README.md for the map of the
//! code and SPEC section numbers referenced throughout.

pub mod access;
pub mod accounts;
pub mod actors;
pub mod attachments;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod conversation;
pub mod counted;
pub mod db;
pub mod domain;
pub mod error;
pub mod first_run;
pub mod handoff;
pub mod hours;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod node;
pub mod origins;
pub mod placeholders;
pub mod protocol;
pub mod random;
pub mod retry;
pub mod routing;
pub mod search;
pub mod socket;
pub mod startup;
pub mod state;
pub mod transcript;
pub mod webhooks;
