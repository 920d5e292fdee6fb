//! Test harness: starts a real nats-server and the services on free loopback ports.
