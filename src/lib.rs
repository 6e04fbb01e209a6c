//! modcon: a keyboard-driven terminal moderation console for a community platform's
//! database, and the scriptable commands that share its data layer.

pub mod app;
pub mod batch;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connect;
pub mod db;
pub mod exit;
pub mod files;
pub mod logging;
pub mod lookalike;
pub mod paths;
pub mod sanitize;
pub mod seed;
pub mod tui;
