//! Ops: how the service is run and watched. [`events`] is the one place each operational
//! event (sample rejected, Redis lost, checkpoint failed, ...) is both logged and counted;
//! [`telemetry`] sets up logs and the metrics recorder; [`exposition`] reads the metrics
//! back for [`status`], the runtime report; [`clock`] is the one "now" every window follows;
//! [`live`] holds a value a config reload replaces.
//!
//! Every other folder may use it, and it imports none of them: the types its functions
//! take are plain values or defined here.

pub mod clock;
pub mod events;
pub mod exposition;
pub mod live;
pub mod settings;
pub mod status;
pub mod telemetry;
