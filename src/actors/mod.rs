//! The supervisor tree.
