//! (exports: below)
