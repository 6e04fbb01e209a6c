//! modcon: a keyboard-driven terminal moderation console for a community platform's
//! database, and the scriptable commands that share its data layer.

pub mod db;
