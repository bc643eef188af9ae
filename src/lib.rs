//! pyhost: a host program that embeds CPython (2.7 or any 3.x, chosen at
//! build time) and runs plugin modules, each in its own interpreter.
//!
//! Layers, bottom up: `compat/` (C, the only code that knows the Python
//! version), [`python`] (the safe Rust face of it), [`cli`] (thin commands).

pub mod bench;
pub mod cache;
pub mod cext;
pub mod child;
pub mod cli;
pub mod host;
pub mod matrix;
pub mod ownership;
pub mod port;
pub mod python;
