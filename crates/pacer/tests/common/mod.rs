//! Test support shared by the suites that run against every storage backend: a throwaway
//! PostgreSQL cluster (`pg`) and the store each test gets (`backends`). Each suite uses a
//! part of it, hence the allowance below.
#![allow(dead_code)]

pub mod backends;
pub mod pg;
pub mod serve;
