//! The fault and request-count controls every REST fake's state offers.

/// Adds to a fake's state type the controls tests and the fault campaign use on every REST
/// fake alike: `set_fault`, `set_fault_for`, `clear_faults`, `faults`, `request_count`,
/// `reset_request_counts` (public) and `requests` (for the fake's own server).
///
/// Invoked inside the state's `impl` block; the type must have the fields
/// `faults: Faults<$operation>` and `requests: RequestLog`. `$path_example` is a path of that
/// API, shown in `request_count`'s documentation. One definition keeps the fakes' controls
/// the same, so that a test written against one fake reads the same against the next.
macro_rules! fault_and_request_controls {
    ($operation:ty, $path_example:literal) => {
        /// Injects a fault into the next matching requests (see
        /// [`Faults::set`](crate::kit::Faults::set): a commit-then-drop fault is aimed at
        /// its own operation, every other fault at every operation).
        pub fn set_fault(&self, fault: $crate::kit::Fault<$operation>) {
            self.faults.set(fault);
        }

        /// Injects a fault into the next requests of one operation only.
        pub fn set_fault_for(&self, operation: $operation, fault: $crate::kit::Fault<$operation>) {
            self.faults.set_for(operation, fault);
        }

        /// Removes every fault, including latency and a random mode.
        pub fn clear_faults(&self) {
            self.faults.clear();
        }

        /// The fault switches themselves, e.g. for
        /// [`Faults::set_random`](crate::kit::Faults::set_random) in a fault campaign.
        pub fn faults(&self) -> &$crate::kit::Faults<$operation> {
            &self.faults
        }

        /// Where the server counts requests.
        pub(crate) fn requests(&self) -> &$crate::kit::RequestLog {
            &self.requests
        }

        #[doc = concat!(
            "How many requests the server received with this method (case-insensitive) and a ",
            "path starting with `path_prefix` (e.g. `", $path_example, "`; query strings are ",
            "not part of the path). Every request counts, including refused, faulted and ",
            "unauthenticated ones."
        )]
        pub fn request_count(&self, method: &str, path_prefix: &str) -> usize {
            self.requests.count(method, path_prefix)
        }

        /// Forgets all request counts.
        pub fn reset_request_counts(&self) {
            self.requests.reset();
        }
    };
}

pub(crate) use fault_and_request_controls;
