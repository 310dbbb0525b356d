//! Integration tests of gpucloud-http.
