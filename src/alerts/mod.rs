//! From findings to notifications: which series have which rules and owners (route), what
//! changed since the team was last told (state), and where that memory lives (store).

pub mod deliver;
pub mod explain;
pub mod replan;
pub mod route;
pub mod state;
pub mod store;
