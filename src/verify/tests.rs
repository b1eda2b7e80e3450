//! Tests of the verifier against local HTTPS mock providers.
