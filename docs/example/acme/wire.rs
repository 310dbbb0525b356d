mod wire {
    //! Acme's JSON, read leniently: unknown fields are ignored and what may be absent has a
    //! default, so a new field on Acme's side never breaks a sync.

    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    #[derive(Debug, Deserialize)]
    pub struct List<T> {
        #[serde(default = "Vec::new")]
        pub data: Vec<T>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Region {
        pub name: String,
        #[serde(default)]
        pub available: bool,
        #[serde(default)]
        pub country: String,
    }

    #[derive(Debug, Deserialize)]
    pub struct InstanceType {
        pub name: String,
        pub region: String,
        #[serde(default)]
        pub gpu: String,
        #[serde(default)]
        pub gpus: u32,
        #[serde(default)]
        pub vcpus: u32,
        #[serde(default)]
        pub memory_gib: i64,
        #[serde(default)]
        pub price_cents_per_hour: Option<i64>,
        #[serde(default)]
        pub available: bool,
    }

    #[derive(Debug, Deserialize)]
    pub struct Instance {
        pub id: String,
        #[serde(default)]
        pub name: String,
        #[serde(default)]
        pub status: String,
        #[serde(default)]
        pub region: String,
        #[serde(default, rename = "type")]
        pub instance_type: String,
        #[serde(default)]
        pub hostname: String,
        #[serde(default)]
        pub ip: Option<String>,
        #[serde(default)]
        pub labels: BTreeMap<String, String>,
    }

    #[derive(Debug, Serialize)]
    pub struct Launch<'a> {
        pub name: &'a str,
        #[serde(rename = "type")]
        pub instance_type: &'a str,
        pub region: &'a str,
        pub hostname: &'a str,
        pub ssh_key: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub user_data: Option<&'a str>,
        pub labels: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ErrorBody {
        pub error: ErrorDetail,
    }

    #[derive(Debug, Deserialize)]
    pub struct ErrorDetail {
        #[serde(default)]
        pub code: String,
        #[serde(default)]
        pub message: String,
    }
}
