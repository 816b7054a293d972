//! The first blast from the dashboard: upload a CSV file, read the preview, confirm, download
//! the links file; with the session and CSRF rules of every other dashboard form.

use fantoccini::Locator;

use paylink_testkit::{ADMIN_TOKEN, AppOptions, TestApp, spawn_app_with};

use crate::browser::Browser;

const BOUNDARY: &str = "paylink-test-boundary";

async fn app_without_workers() -> TestApp {
    spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await
}

/// A `multipart/form-data` body as a browser sends the upload form: the CSRF field (if any),
/// the blast's name and the file.
fn upload_body(csrf: Option<&str>, csv: &str) -> String {
    let mut body = String::new();
    if let Some(csrf) = csrf {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nSeptember\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"september.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{BOUNDARY}--\r\n"
    ));
    body
}

async fn upload(app: &TestApp, csrf: Option<&str>, csv: &str) -> reqwest::Response {
    app.client
        .post(app.url("/admin/blasts/preview"))
        .bearer_auth(ADMIN_TOKEN)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(upload_body(csrf, csv))
        .send()
        .await
        .unwrap()
}

fn csv(product: &str, rows: &[&str]) -> String {
    let mut csv = String::from("external_ref,payer_email,payer_name,product_id,amount_cents\n");
    for row in rows {
        csv.push_str(&row.replace("PRODUCT", product));
        csv.push('\n');
    }
    csv
}

/// The value of the hidden field `name` in a page's confirm form.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("a {name} field in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_or_a_confirmation_without_the_csrf_token_is_refused() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let file = csv(&product, &["s-0,a@example.com,A,PRODUCT,4500"]);
    let csrf = app.admin_csrf().await;

    let missing = upload(&app, None, &file).await;
    let forged = upload(&app, Some(&"0".repeat(64)), &file).await;
    let previewed = upload(&app, Some(&csrf), &file).await;
    assert_eq!(previewed.status(), 200);
    let page = previewed.text().await.unwrap();
    let confirm = |csrf: String| {
        let form = [
            ("csrf", csrf),
            ("name", hidden(&page, "name")),
            ("file_name", hidden(&page, "file_name")),
            ("csv", hidden(&page, "csv")),
            ("sha256", hidden(&page, "sha256")),
        ];
        let request = app
            .client
            .post(app.url("/admin/blasts/create"))
            .bearer_auth(ADMIN_TOKEN)
            .form(&form);
        async move { request.send().await.unwrap() }
    };
    let unconfirmed = confirm("0".repeat(64)).await;

    assert_eq!(missing.status(), 403);
    assert_eq!(forged.status(), 403);
    assert_eq!(unconfirmed.status(), 403);
    assert_eq!(app.count_orders().await, 0);
    assert_eq!(app.count_rows("blasts").await, 0);
    let confirmed = confirm(csrf).await;
    assert_eq!(confirmed.status(), 303);
    assert!(
        confirmed.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/admin/blasts/bl_")
    );
    assert_eq!(app.count_orders().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_in_an_upload_is_reported_by_its_line_and_nothing_is_created() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let file = csv(
        &product,
        &[
            "s-0,a@example.com,A,PRODUCT,4500",
            "s-1,nobody,B,PRODUCT,4500",
            "s-2,c@example.com,C,PRODUCT,$45.00",
        ],
    );
    let csrf = app.admin_csrf().await;

    let response = upload(&app, Some(&csrf), &file).await;

    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<td>3</td><td>payer_email: &quot;nobody&quot; is not an email address"),
        "{page}"
    );
    assert!(
        page.contains("<td>4</td><td>amount_cents: &quot;$45.00&quot; is not a whole number"),
        "{page}"
    );
    assert!(!page.contains("/admin/blasts/create"), "no confirm form");
    assert_eq!(app.count_orders().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_carrying_another_file_than_the_one_previewed_is_refused() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let file = csv(&product, &["s-0,a@example.com,A,PRODUCT,4500"]);
    let csrf = app.admin_csrf().await;
    let page = upload(&app, Some(&csrf), &file).await.text().await.unwrap();
    let other = csv(&product, &["s-0,a@example.com,A,PRODUCT,450000"]);
    let swapped = base64_of(&other);

    let response = crate::admin::admin_post(
        &app,
        "/admin/blasts/create",
        &[
            ("csrf", &csrf),
            ("name", "September"),
            ("file_name", "september.csv"),
            ("csv", &swapped),
            ("sha256", &hidden(&page, "sha256")),
        ],
    )
    .await;

    assert_eq!(response.status(), 400);
    assert_eq!(app.count_orders().await, 0);
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The organiser's first blast without an engineer: log in, upload the file, read the preview,
/// confirm, and download the links file, one row per order with its pay URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organiser_uploads_a_csv_confirms_and_downloads_the_links_file() {
    let app = app_without_workers().await;
    let product = app.create_product("monthly").await;
    let dir =
        std::env::temp_dir().join(format!("paylink_upload_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("october.csv");
    std::fs::write(
        &file,
        csv(
            &product,
            &[
                "o-0,a@example.com,A,PRODUCT,4500",
                "o-1,b@example.com,B,PRODUCT,4500",
                "o-2,c@example.com,C,PRODUCT,30",
            ],
        ),
    )
    .unwrap();
    let browser = Browser::start().await;
    let client = browser.client();
    let arrived = |xpath: &'static str| browser.arrived(xpath);

    browser.log_in(&app).await;
    browser
        .click(Locator::LinkText("New blast from a CSV file"))
        .await;
    let input = arrived("//input[@type='file']").await;
    input.send_keys(&file.display().to_string()).await.unwrap();
    browser
        .click(Locator::Css("form[action='/admin/blasts/preview'] button"))
        .await;
    let totals = arrived("//table[@id='totals']").await;
    let totals = totals.text().await.unwrap();
    assert!(totals.contains("$90.30"), "{totals}");
    let warning = client
        .find(Locator::Css("#warnings li[data-code='below_minimum']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(warning.contains("line(s) 4"), "{warning}");
    assert_eq!(app.count_orders().await, 0, "the preview creates nothing");
    browser.screenshot("blast-upload-preview").await;

    browser
        .click(Locator::Css("form[action='/admin/blasts/create'] button"))
        .await;
    let link = arrived("//a[@id='links-file']").await;
    let href = link.attr("href").await.unwrap().unwrap();
    browser.screenshot("blast-upload-created").await;
    let cookie = client
        .get_named_cookie("paylink_admin")
        .await
        .expect("the session cookie");
    let links = app
        .client
        .get(app.url(&href))
        .header("cookie", format!("paylink_admin={}", cookie.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(links.status(), 200);
    let body = links.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let pay = crate::organiser_cli::column(&headers, "pay_url");
    let reference = crate::organiser_cli::column(&headers, "external_ref");
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 3, "{body}");
    let pay_base = format!("{}/pay/", app.settings.public_base_url);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(&record[reference], format!("o-{i}"));
        assert!(record[pay].starts_with(&pay_base), "{body}");
    }
    assert_eq!(app.count_orders().await, 3);
    browser.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}
