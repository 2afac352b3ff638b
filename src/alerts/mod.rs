//! From findings to notifications: which series have which rules and owners (route), what
//! changed since the team was last told (state), and where that memory lives (store).

pub mod deliver;
pub mod explain;
pub mod replan;
pub mod route;
pub mod state;
pub mod store;

/// The log target of the one line each alert change gets (not a prefix of a module's, which a
/// filter on it would silence too); `costwarden run` turns it off, as
/// its summary names every change (`run::init_logs`).
pub const LOG_TARGET: &str = "costwarden::alert_change";
