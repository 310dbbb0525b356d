mod convert {
    //! Pure conversions between Acme's JSON and the model, unit-tested without a server.

    use gpucloud::{
        Bookkeeping, Bytes, BytesUnit, Gpu, Instance, InstanceId, InstanceType, InstanceTypeId,
        LifecycleStatus, Location, Manufacturer, Price, Status, normalize_gpu_name, smallvec,
    };

    use crate::wire;

    /// The provider id: written in one place, used by the client, the descriptor and here.
    pub const PROVIDER_ID: &str = "acme";

    pub fn location(w: wire::Region) -> Location {
        Location {
            description: w.name.clone(),
            name: w.name,
            available: w.available,
            country: w.country,
            ..Location::default()
        }
    }

    pub fn instance_type(w: wire::InstanceType) -> InstanceType {
        // The catalog's short strings are `CompactString`s and its one-element lists
        // `SmallVec`s (inline, no allocation per field): `.into()` and `smallvec![…]` build them.
        let mut it = InstanceType {
            location: w.region.into(),
            type_name: w.name.into(),
            supported_gpus: smallvec![Gpu {
                count: w.gpus,
                name: normalize_gpu_name(&w.gpu),
                manufacturer: Manufacturer::Nvidia,
                ..Gpu::default()
            }],
            vcpu: w.vcpus,
            memory_bytes: Bytes::new(w.memory_gib, BytesUnit::GiB),
            // Acme publishes no price for some types: unknown stays unknown, never zero.
            base_price: w.price_cents_per_hour.map(Price::usd_cents),
            is_available: w.available,
            stoppable: true,
            rebootable: false,
            can_modify_firewall_rules: false,
            provider: PROVIDER_ID.into(),
            cloud: PROVIDER_ID.into(),
            ..InstanceType::default()
        };
        it.id = it.generic_id();
        it
    }

    pub fn lifecycle(status: &str) -> LifecycleStatus {
        match status {
            "running" => LifecycleStatus::Running,
            "stopping" => LifecycleStatus::Stopping,
            "stopped" => LifecycleStatus::Stopped,
            "deleting" => LifecycleStatus::Terminating,
            "deleted" => LifecycleStatus::Terminated,
            "error" => LifecycleStatus::Failed,
            // "provisioning", "starting", and states Acme adds later: on its way somewhere.
            _ => LifecycleStatus::Pending,
        }
    }

    pub fn instance(w: wire::Instance) -> Instance {
        let (bookkeeping, tags) = Bookkeeping::decode(w.labels);
        let lifecycle = lifecycle(&w.status);
        Instance {
            cloud_id: InstanceId::new(w.id),
            name: w.name,
            ref_id: bookkeeping.ref_id,
            cloud_cred_ref_id: bookkeeping.cred_ref_id,
            created_at: bookkeeping.created_at,
            hostname: w.hostname,
            public_ip: w.ip.unwrap_or_default(),
            ssh_user: "ubuntu".to_owned(),
            ssh_port: 22,
            // The same builder as the catalog entry, so the two always agree.
            instance_type_id: InstanceTypeId::generic(&w.region, None, &w.instance_type),
            instance_type: w.instance_type,
            location: w.region,
            status: Status::new(lifecycle),
            // The type can stop; this instance only from where a stop or start makes sense.
            stoppable: matches!(lifecycle, LifecycleStatus::Running | LifecycleStatus::Stopped),
            rebootable: false,
            tags,
            ..Instance::default()
        }
    }
}
