//! Benchmarks against moto, printing figures (run with `GPUCLOUD_MOTO_SERVER` set and
//! `cargo bench -p gpucloud-aws`): `list_instances` of 1,000 instances, and one region's
//! catalog (`instance_types` bound to the region), through the provider, next to the plain SDK
//! making the same requests (`DescribeInstances` pages with the same state filter; the
//! catalog's `DescribeInstanceTypes`, `DescribeInstanceTypeOfferings` and
//! `DescribeSpotPriceHistory`, and the Price List's `GetProducts` on the stub, without the
//! conversions or the model).
//!
//! Samples are interleaved (provider, plain, provider, ...), so background load on the shared
//! machine hits both alike, and each figure is a median. moto answers slowly (Python): the
//! ratio shows what the provider adds on top of the same requests.

use std::time::Duration;

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::{
    Filter, InstanceType as Ec2Type, LocationType, ResourceType, Tag, TagSpecification,
};
use gpucloud_aws::{AwsConfig, AwsCredential};
use gpucloud_core::{CloudClient, GetInstanceTypeArgs, ListInstancesArgs};
use gpucloud_fakes::aws_pricing::{FakeAwsPricing, FakeAwsPricingOptions};
use gpucloud_fakes::bench::{Task, interleaved, millis, ratio};
use gpucloud_fakes::moto::MotoServer;

const REGION: &str = "us-east-1";
const INSTANCES: i32 = 1000;
const SAMPLES: usize = 7;

fn filter(name: &str, values: &[&str]) -> Filter {
    let mut f = Filter::builder().name(name);
    for v in values {
        f = f.values(*v);
    }
    f.build()
}

async fn plain_list(ec2: &aws_sdk_ec2::Client) -> usize {
    let mut n = 0;
    let mut token = None;
    loop {
        let page = ec2
            .describe_instances()
            .filters(filter(
                "instance-state-name",
                &["pending", "running", "stopping", "stopped", "shutting-down"],
            ))
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .expect("describe instances");
        n += page
            .reservations()
            .iter()
            .map(|r| r.instances().len())
            .sum::<usize>();
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return n;
        }
    }
}

async fn plain_catalog(ec2: &aws_sdk_ec2::Client, pricing: &aws_sdk_pricing::Client) -> usize {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = ec2
            .describe_instance_types()
            .filters(filter("instance-type", &["p*", "g*"]))
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .expect("describe instance types");
        names.extend(
            page.instance_types()
                .iter()
                .filter_map(|t| t.instance_type().cloned()),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut offerings = 0;
    for chunk in names.chunks(100) {
        let values: Vec<&str> = chunk.iter().map(Ec2Type::as_str).collect();
        offerings += ec2
            .describe_instance_type_offerings()
            .location_type(LocationType::AvailabilityZone)
            .filters(filter("instance-type", &values))
            .send()
            .await
            .expect("offerings")
            .instance_type_offerings()
            .len();
        offerings += ec2
            .describe_spot_price_history()
            .set_instance_types(Some(chunk.to_vec()))
            .product_descriptions("Linux/UNIX")
            .send()
            .await
            .expect("spot prices")
            .spot_price_history()
            .len();
    }
    let products = pricing
        .get_products()
        .service_code("AmazonEC2")
        .send()
        .await
        .expect("products")
        .price_list()
        .len();
    names.len() + offerings + products
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let moto = MotoServer::start()
        .await
        .unwrap_or_else(|why| panic!("{why}"));
    let stub = FakeAwsPricing::start(FakeAwsPricingOptions::default())
        .await
        .expect("stub");
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "AKIAMOTO",
            "moto-secret",
            None,
            None,
            "bench",
        ))
        .load()
        .await;
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&sdk)
            .endpoint_url(moto.endpoint())
            .build(),
    );
    let pricing = aws_sdk_pricing::Client::from_conf(
        aws_sdk_pricing::config::Builder::from(&sdk)
            .endpoint_url(stub.base_url())
            .build(),
    );
    let image = ec2
        .describe_images()
        .owners("099720109477")
        .send()
        .await
        .expect("images")
        .images()[0]
        .image_id()
        .expect("an image id")
        .to_owned();
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(Tag::builder().key("gpucloud-ref-id").value("bench").build())
        .tags(
            Tag::builder()
                .key("gpucloud-cred-ref-id")
                .value("bench")
                .build(),
        )
        .build();
    for _ in 0..INSTANCES / 100 {
        ec2.run_instances()
            .image_id(&image)
            .instance_type(Ec2Type::G5Xlarge)
            .min_count(100)
            .max_count(100)
            .tag_specifications(tags.clone())
            .send()
            .await
            .expect("seed instances");
    }
    let config = AwsConfig::new(REGION)
        .with_regions([REGION])
        .with_static_credentials("AKIAMOTO", "moto-secret")
        .with_endpoint_url(moto.endpoint())
        .with_pricing_endpoint_url(stub.base_url())
        .with_quotas_endpoint_url(stub.base_url())
        .with_ref_id("bench")
        .with_request_timeout(Duration::from_secs(120));
    let client = AwsCredential::new(config).expect("config").client(REGION);
    assert_eq!(
        client
            .list_instances(&ListInstancesArgs::default())
            .await
            .expect("list")
            .len(),
        INSTANCES as usize
    );
    assert_eq!(plain_list(&ec2).await, INSTANCES as usize);

    let list_args = ListInstancesArgs::default();
    let mut list_tasks: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(client.list_instances(&list_args).await.expect("list"));
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(plain_list(&ec2).await);
            })
        }),
    ];
    let list = interleaved(SAMPLES, &mut list_tasks).await;
    println!(
        "list_instances ({INSTANCES} instances): provider {:.1} ms, plain SDK {:.1} ms, ratio {:.3}",
        millis(list[0]),
        millis(list[1]),
        ratio(list[0], list[1])
    );

    let catalog_args = GetInstanceTypeArgs::default();
    let mut catalog_tasks: Vec<Task<'_>> = vec![
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(client.instance_types(&catalog_args).await.expect("catalog"));
            })
        }),
        Box::new(|| {
            Box::pin(async {
                std::hint::black_box(plain_catalog(&ec2, &pricing).await);
            })
        }),
    ];
    let catalog = interleaved(SAMPLES, &mut catalog_tasks).await;
    println!(
        "instance_types ({REGION}): provider {:.1} ms, plain SDK {:.1} ms, ratio {:.3}",
        millis(catalog[0]),
        millis(catalog[1]),
        ratio(catalog[0], catalog[1])
    );
}
