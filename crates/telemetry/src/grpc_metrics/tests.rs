use std::convert::Infallible;

use tower::{Layer as _, Service as _, ServiceExt as _};

use super::*;

fn encoded(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

/// A server whose handler answers as the request's `x-answer` header says: a gRPC code, or
/// nothing (an `OK` that comes in the trailers).
fn server() -> impl tower::Service<
    http::Request<()>,
    Response = http::Response<()>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<()>, Infallible>> + Send + 'static,
> + Clone {
    tower::service_fn(|request: http::Request<()>| async move {
        let mut response = http::Response::new(());
        if let Some(code) = request.headers().get("x-answer") {
            response.headers_mut().insert("grpc-status", code.clone());
        }
        Ok::<_, Infallible>(response)
    })
}

fn call(path: &str, code: Option<i32>) -> http::Request<()> {
    let mut request = http::Request::builder().uri(path);
    if let Some(code) = code {
        request = request.header("x-answer", code.to_string());
    }
    request.body(()).unwrap()
}

#[tokio::test]
async fn calls_are_counted_and_timed_by_method_and_code() {
    let mut registry = Registry::default();
    let metrics = GrpcMetrics::register(&mut registry);
    let service = metrics.layer().layer(server());
    for request in [
        call("/csi.v1.Controller/CreateVolume", None),
        call("/csi.v1.Controller/CreateVolume", None),
        call("/csi.v1.Controller/CreateVolume", Some(3)),
        call("/csi.v1.Identity/Probe", Some(0)),
        call("/vol-4711/../x", Some(12)),
    ] {
        service.clone().oneshot(request).await.unwrap();
    }
    let text = encoded(&registry);
    for line in [
        r#"grpc_server_handled_total{grpc_service="csi.v1.Controller",grpc_method="CreateVolume",grpc_code="OK"} 2"#,
        r#"grpc_server_handled_total{grpc_service="csi.v1.Controller",grpc_method="CreateVolume",grpc_code="InvalidArgument"} 1"#,
        r#"grpc_server_handled_total{grpc_service="csi.v1.Identity",grpc_method="Probe",grpc_code="OK"} 1"#,
        r#"grpc_server_handled_total{grpc_service="unknown",grpc_method="unknown",grpc_code="Unimplemented"} 1"#,
        r#"grpc_server_handling_seconds_count{grpc_service="csi.v1.Controller",grpc_method="CreateVolume",grpc_code="OK"} 2"#,
        r#"grpc_server_in_flight_requests{grpc_service="csi.v1.Controller",grpc_method="CreateVolume"} 0"#,
    ] {
        assert!(text.contains(line), "{line}\nnot in\n{text}");
    }
    assert!(!text.contains("vol-4711"), "{text}");
}

#[tokio::test]
async fn a_call_is_in_flight_until_it_answers_or_is_dropped() {
    let mut registry = Registry::default();
    let metrics = GrpcMetrics::register(&mut registry);
    let (answer, answered) = tokio::sync::oneshot::channel::<()>();
    let answered = std::sync::Arc::new(tokio::sync::Mutex::new(Some(answered)));
    let slow = tower::service_fn(move |_: http::Request<()>| {
        let answered = answered.clone();
        async move {
            if let Some(answered) = answered.lock().await.take() {
                let _ = answered.await;
            }
            Ok::<_, Infallible>(http::Response::new(()))
        }
    });
    let mut service = metrics.layer().layer(slow);
    let in_flight = r#"grpc_server_in_flight_requests{grpc_service="csi.v1.Node",grpc_method="NodeStageVolume"}"#;

    let first = service.call(call("/csi.v1.Node/NodeStageVolume", None));
    assert!(encoded(&registry).contains(&format!("{in_flight} 1")));
    let second = service.call(call("/csi.v1.Node/NodeStageVolume", None));
    assert!(encoded(&registry).contains(&format!("{in_flight} 2")));
    drop(second);
    assert!(encoded(&registry).contains(&format!("{in_flight} 1")));
    answer.send(()).unwrap();
    first.await.unwrap();
    let text = encoded(&registry);
    assert!(text.contains(&format!("{in_flight} 0")), "{text}");
    // The dropped call never finished: only the answered one is counted.
    assert!(
        text.contains(r#"grpc_server_handled_total{grpc_service="csi.v1.Node",grpc_method="NodeStageVolume",grpc_code="OK"} 1"#),
        "{text}"
    );
}
