//! A real headless Chromium, driven over WebDriver (fantoccini + chromedriver), for the pages a
//! person looks at. `Browser::start()` gives each test its own chromedriver and browser profile.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use paylink_testkit::{AppOptions, Running, TestApp, eventually, spawn_app_with};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// As root, and on a machine that cannot reach the internet, Chromium needs all of these or it
/// refuses to start or stalls on refused connections.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,900",
];

/// A WebDriver session in a headless Chromium of the test's own.
pub struct Browser {
    client: Client,
    /// chromedriver, leader of a process group that also holds the browser it launched.
    driver: Running,
    /// Holds the browser profile and chromedriver's log; dropped after the processes.
    _dir: TempDir,
}

impl Browser {
    pub async fn start() -> Self {
        for (path, what) in [(CHROMIUM, "Chromium"), (CHROMEDRIVER, "chromedriver")] {
            assert!(
                Path::new(path).exists(),
                "{what} is not installed ({path} is missing): install Debian's `chromium` and \
                 `chromium-driver` packages (apt-get install -y chromium chromium-driver), as \
                 .ci/run does"
            );
        }
        let dir = TempDir::new();
        // The port is free when picked but not held; another process may take it before
        // chromedriver binds it, so a driver that exits early is retried on a new port.
        for _ in 0..3 {
            let (driver, url) = match start_driver(&dir).await {
                Ok(started) => started,
                Err(log) => {
                    eprintln!("chromedriver exited before answering, retrying:\n{log}");
                    continue;
                }
            };
            let client = connect(&url, &dir).await;
            return Self {
                client,
                driver,
                _dir: dir,
            };
        }
        panic!(
            "chromedriver did not start on three ports; its log:\n{}",
            dir.driver_log()
        );
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The element at `xpath`, once the page shows it (within 60 s: the whole suite shares two
    /// cores with this browser): WebDriver does not wait for the navigation a submit or a click
    /// starts, so wait for an element only the next page has.
    pub async fn arrived(&self, xpath: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(60))
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("{xpath} did not appear: {e}"))
    }

    /// Clicks the element `locator` finds (a link, a form's button).
    pub async fn click(&self, locator: Locator<'_>) {
        self.client
            .find(locator)
            .await
            .unwrap_or_else(|e| panic!("nothing to click ({e})"))
            .click()
            .await
            .unwrap();
    }

    /// Logs in to `app`'s dashboard through its login form and waits for the overview.
    pub async fn log_in(&self, app: &TestApp) {
        self.client.goto(&app.url("/admin/login")).await.unwrap();
        self.client
            .form(Locator::Css("form[action='/admin/login']"))
            .await
            .expect("the login form is shown without a session")
            .set_by_name("token", paylink_testkit::ADMIN_TOKEN)
            .await
            .unwrap()
            .submit()
            .await
            .unwrap();
        self.arrived("//h1[normalize-space()='Overview']").await;
    }

    /// Saves what the browser shows to `target/screenshots/<name>.png`, for a person to look at
    /// when a test fails or a page changes.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot taken");
        let dir = workspace_root().join("target").join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory created");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Ends the session, so chromedriver closes the browser in an orderly way. A test that
    /// panics before this still has the processes killed and the profile removed on drop.
    pub async fn finish(self) {
        self.client.clone().close().await.expect("session closed");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing chromedriver alone leaves the browser running (reparented to init), so the
        // whole group goes. chromedriver is not reaped yet, so its id still names our group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.0.id())])
            .stderr(Stdio::null())
            .status();
    }
}

/// Starts chromedriver on a free port and waits until it answers; Err(its log) if it exits.
async fn start_driver(dir: &TempDir) -> Result<(Running, String), String> {
    let port = paylink_testkit::free_port();
    let log = std::fs::File::create(dir.path.join("chromedriver.log")).expect("log file created");
    let mut command = Command::new(CHROMEDRIVER);
    command
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log);
    // Its own process group, so Drop can end the browser it launches along with it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut driver = Running(command.spawn().expect("chromedriver starts"));
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = eventually(Duration::from_secs(20), || {
        let alive = driver.alive();
        let (http, url) = (&http, &url);
        async move {
            if !alive {
                return Some(false);
            }
            let status = http.get(format!("{url}/status")).send().await.ok()?;
            let body: serde_json::Value = status.json().await.ok()?;
            (body["value"]["ready"] == true).then_some(true)
        }
    })
    .await;
    match ready {
        Some(true) => Ok((driver, url)),
        Some(false) => Err(dir.driver_log()),
        None => panic!(
            "chromedriver did not answer on {url} within 20 s; its log:\n{}",
            dir.driver_log()
        ),
    }
}

async fn connect(url: &str, dir: &TempDir) -> Client {
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|&a| a.to_owned()).collect();
    args.push(format!(
        "--user-data-dir={}",
        dir.path.join("profile").display()
    ));
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        // A page that never loads fails the test instead of hanging it for chromedriver's 300 s.
        "timeouts": { "pageLoad": 30_000, "script": 30_000 },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object")
    };
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    match tokio::time::timeout(Duration::from_secs(60), builder.connect(url)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => panic!(
            "chromedriver could not start Chromium ({e}); its log:\n{}",
            dir.driver_log()
        ),
        Err(_) => panic!(
            "Chromium did not start within 60 s; chromedriver's log:\n{}",
            dir.driver_log()
        ),
    }
}

/// The directory holding the workspace's Cargo.toml (and so its `target/`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|manifest| manifest.contains("[workspace]"))
        })
        .expect("a workspace Cargo.toml above the package")
        .to_path_buf()
}

/// A directory of the test's own, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("paylink_browser_{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("browser temp dir created");
        Self { path }
    }

    fn driver_log(&self) -> String {
        std::fs::read_to_string(self.path.join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_renders_a_paylink_page() {
    // Arrange
    let app = spawn_app_with(AppOptions {
        workers: false,
        ..AppOptions::default()
    })
    .await;
    let product = app.create_product("monthly").await;
    let order = app.create_order(&product, 2500).await;
    let pay_url = order["pay_url"].as_str().expect("pay_url");
    let browser = Browser::start().await;

    // Act
    browser
        .client()
        .goto(&format!("{pay_url}/thanks"))
        .await
        .expect("the thanks page loads");
    let path = browser.screenshot("smoke-thanks").await;

    // Assert
    let client = browser.client();
    // No session id to read from Stripe: the page says the payment is being confirmed.
    assert_eq!(client.title().await.unwrap(), "Confirming your payment");
    let heading = client.find(Locator::Css("h1")).await.unwrap();
    assert_eq!(
        heading.text().await.unwrap(),
        "Thank you: we are confirming your payment"
    );
    let body = client.find(Locator::Css("body")).await.unwrap();
    assert!(
        body.text()
            .await
            .unwrap()
            .contains("Confirmation usually takes a few seconds"),
        "the page says the payment is being confirmed"
    );
    let size = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("no screenshot at {} ({e})", path.display()))
        .len();
    assert!(size > 1024, "{} is only {size} bytes", path.display());
    browser.finish().await;
}

/// The operator's path through the dashboard after a blast with injected failures: log in,
/// look at the overview, open the failures, press Retry on one, and watch the order become
/// active. Screenshots of the overview and the failures page are kept in
/// `target/screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_logs_in_opens_the_failures_and_retries_one_order() {
    let app = spawn_app_with(AppOptions {
        max_attempts: 1,
        ..AppOptions::default()
    })
    .await;
    // The first five Stripe requests fail: five orders end up failed, the rest minted.
    app.fake_config(json!({"fail_next": 5})).await;
    let product = app.create_product("monthly").await;
    let blast = crate::blasts::post_blast(
        &app,
        "December dues",
        crate::blasts::rows(&product, 20, "dec"),
    )
    .await;
    let status =
        crate::blasts::wait_for_blast(&app, blast["id"].as_str().unwrap(), Duration::from_secs(30))
            .await;
    assert_eq!(status["counts"]["failed"], 5, "{status}");
    let browser = Browser::start().await;
    let client = browser.client();
    let arrived = |xpath: &'static str| browser.arrived(xpath);

    // Log in through the form.
    browser.log_in(&app).await;
    let attention = client
        .find(Locator::Css(".card[data-label='attention']"))
        .await
        .unwrap();
    assert!(
        attention.text().await.unwrap().contains("5 orders"),
        "the five failed orders need attention"
    );
    browser.screenshot("admin-overview").await;

    // The failures page lists the five with Stripe's error.
    client
        .find(Locator::LinkText("Failures"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    arrived("//table[@id='failed-orders']").await;
    let rows = client
        .find_all(Locator::Css("#failed-orders tr[data-order]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    let first = &rows[0];
    let order_id = first.attr("data-order").await.unwrap().unwrap();
    assert!(first.text().await.unwrap().contains("HTTP 500"));
    browser.screenshot("admin-failures").await;

    // Retry it, and see it become active on its own page.
    first
        .find(Locator::Css("button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let notice = arrived("//p[contains(@class, 'flash')]").await;
    assert!(
        notice
            .text()
            .await
            .unwrap()
            .contains("will have a pay link made again")
    );
    let page = app.url(&format!("/admin/orders/{order_id}"));
    let active = eventually(Duration::from_secs(60), || async {
        client.goto(&page).await.ok()?;
        let text = client
            .find(Locator::Css("main"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("Pay link made").then_some(text)
    })
    .await
    .expect("the retried order shows its new link");
    assert!(active.contains("unpaid"), "{active}");
    assert_eq!(app.get_order(&order_id).await["link_state"], "active");
    assert_eq!(app.stripe_links_for(&order_id).await.len(), 1);
    browser.finish().await;
}

/// The widths the dashboard is checked at: a laptop and a phone (390 px, an iPhone's).
const WIDTHS: [(&str, u32, u32); 2] = [("desktop", 1280, 900), ("phone", 390, 844)];

/// Screenshots of the page now shown, at every width in [`WIDTHS`], as
/// `target/screenshots/<name>-<width>.png`; at each, nothing is wider than the window (the
/// page does not scroll sideways; wide tables scroll inside their own box).
async fn at_every_width(browser: &Browser, name: &str) {
    let client = browser.client();
    for (width_name, width, height) in WIDTHS {
        client.set_window_size(width, height).await.unwrap();
        // A window the browser would not make that narrow must not pass as a phone.
        let inner = client
            .execute("return window.innerWidth;", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(0);
        assert!(
            inner <= u64::from(width) && inner + 40 >= u64::from(width),
            "{name}: the window is {inner} px wide inside, asked for {width}"
        );
        let overflow = client
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        let shot = browser.screenshot(&format!("{name}-{width_name}")).await;
        let widest = client
            .execute(
                "const w = window.innerWidth; return [...document.querySelectorAll('body *')]\
                 .filter(e => e.getBoundingClientRect().right > w + 0.5)\
                 .map(e => e.tagName + '.' + e.className).slice(0, 5).join(' ');",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(i64::MAX) <= 0,
            "{name} at {width_name} ({width} px) is {overflow} px too wide ({widest}): {}",
            shot.display()
        );
    }
    client.set_window_size(1280, 900).await.unwrap();
}

/// The league's treasurer after a blast: reads the money on the overview (paid, unpaid, needs
/// attention), opens the blast, finds a payer by email, and fixes the link Stripe refused with
/// Change amount; every page at desktop and phone widths, saved in `target/screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_treasurer_reads_the_money_finds_a_payer_and_fixes_a_refused_link() {
    let app = paylink_testkit::spawn_app().await;
    let (blast_id, orders) = crate::dashboard::mixed_blast(&app).await;
    let browser = Browser::start().await;
    let client = browser.client();
    let driving = &browser;
    let arrived = |xpath: String| async move { driving.arrived(&xpath).await };

    client.goto(&app.url("/admin/login")).await.unwrap();
    arrived("//form[@action='/admin/login']".into()).await;
    at_every_width(&browser, "admin-login").await;
    browser.log_in(&app).await;
    let card = |label: &'static str| async move {
        client
            .find(Locator::Css(&format!(".card[data-label='{label}']")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let paid = card("paid").await;
    assert!(
        paid.contains("$30.00") && paid.contains("2 orders"),
        "{paid}"
    );
    let unpaid = card("unpaid").await;
    assert!(
        unpaid.contains("$30.00") && unpaid.contains("1 order"),
        "{unpaid}"
    );
    let attention = card("attention").await;
    assert!(attention.contains("$0.30"), "{attention}");
    at_every_width(&browser, "admin-overview").await;

    // The blast's page: the same figures for its orders.
    client
        .goto(&app.url(&format!("/admin/blasts/{blast_id}")))
        .await
        .unwrap();
    arrived("//h1[starts-with(normalize-space(), 'Blast')]".into()).await;
    assert!(card("paid").await.contains("$30.00"));
    at_every_width(&browser, "admin-blast").await;

    // "Pat says her link does not work": find her by email.
    client.goto(&app.url("/admin/orders")).await.unwrap();
    client
        .form(Locator::Css("form.search"))
        .await
        .unwrap()
        .set_by_name("q", "c@example.com")
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    arrived("//table[contains(@class, 'orders')]//a[normalize-space()='c']".into()).await;
    let pay_url = client
        .find(Locator::Css("input.copy"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(pay_url, orders["c"]["pay_url"].as_str().unwrap());
    at_every_width(&browser, "admin-orders-search").await;

    // The refused link: Change amount on its page.
    let e = orders["e"]["id"].as_str().unwrap();
    client
        .goto(&app.url(&format!("/admin/orders/{e}")))
        .await
        .unwrap();
    arrived("//form[@id='change-amount']".into()).await;
    at_every_width(&browser, "admin-order-refused").await;
    client
        .form(Locator::Css("form#change-amount"))
        .await
        .unwrap()
        .set_by_name("amount", "5.00")
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    arrived("//p[contains(@class, 'flash')]".into()).await;
    let page = app.url(&format!("/admin/orders/{e}"));
    // A new link is a mint through the queue, which shares the machine with the whole suite.
    eventually(Duration::from_secs(60), || async {
        client.goto(&page).await.ok()?;
        let text = client
            .find(Locator::Css("main"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("Pay link made for $5.00").then_some(())
    })
    .await
    .expect("the new amount's link is made");
    at_every_width(&browser, "admin-order").await;
    browser.finish().await;
}
