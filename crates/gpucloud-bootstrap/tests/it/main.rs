//! The rendered user data checked by cloud-init's own schema, and its scripts run for real
//! inside a local-provider instance.

mod local;
mod schema;
mod support;
