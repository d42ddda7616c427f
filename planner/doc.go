// Package planner holds the loop's decisions as pure functions: each step
// (propose, apply, reconcile, an admin sync) gathers a snapshot of GitHub,
// Harness and the store through its ports, hands it here as plain values,
// and acts on the plan value it gets back. Nothing here does I/O, keeps a
// clock or logs: time and identifiers come in as values, so every
// decision is table-tested directly, without a server.
//
// Every operation the planners enqueue is built by one constructor,
// NewOperation, which holds the rules for keys, content hashes and the
// documents of deletes.
package planner
