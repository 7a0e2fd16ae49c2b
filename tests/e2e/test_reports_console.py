"""The console's Reports view end to end through the local stack (`make run` in a subprocess) in headless
Chromium: real traffic (a Telegram case answered, resolved, surveyed and rated 4; an SMS customer's message)
goes through the hub, then the charts, tiles and tables show exactly the figures GET /reports/kpis answers,
for the period and grouping chosen in the form, with the SLA target drawn. A support-only key signs in
(the crisis tab says what it lacks), a crisis-only key sees the reports' missing scope. Screenshots at
desktop and phone width are kept under artifacts/."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from chalicelib.core.timestamps import utc_now
from chalicelib.reports.recorder import business_day
from tests.e2e.conftest import LocalStack
from tests.e2e.test_acknowledgments import phone, simulate
from tests.e2e.test_crisis import ARTIFACTS, _chromium
from tests.e2e.test_feedback import wait_for_feedback, write

pytestmark = pytest.mark.e2e
SUPPORT_KEY, CRISIS_KEY = "dev-support-key", "dev-crisis-key"


def traffic(stack: LocalStack) -> tuple[str, str]:
    """A Telegram case answered, resolved and rated 4; an SMS case resolved and reopened, another left open."""
    chat = str(7_000_000_000 + secrets.randbelow(10**9))
    write(stack, chat, "Il pacco è arrivato rotto")
    conversation = stack.wait_for_conversation("telegram", chat)
    status, _ = stack.post(f"/conversations/{conversation['id']}/messages", {"text": "Ne spediamo un altro."})
    assert status == 202
    stack.wait_for_outbox(lambda e: e["provider"] == "telegram" and e["body"].get("text") == "Ne spediamo un altro.")
    status, resolved = stack.post(f"/conversations/{conversation['id']}/resolve", {})
    assert status == 200 and resolved["survey"] == "asked"
    stack.wait_for_outbox(lambda e: e["provider"] == "telegram" and e["body"].get("chat_id") == chat
                          and "reply_markup" in e["body"])
    write(stack, chat, "4")
    assert wait_for_feedback(stack, conversation["id"])["feedback"]["score"] == 4
    number = phone()
    simulate(stack, "twilio-sms", number, "Buongiorno, info sulla bolletta")
    sms = stack.wait_for_conversation("sms", number)
    for action in ("resolve", "reopen"):  # support closes the SMS case and opens it again: one reopen
        status, _ = stack.post(f"/conversations/{sms['id']}/{action}", {})
        assert status == 200
    waiting = phone()  # a third case, left open: opened and resolved differ
    simulate(stack, "twilio-sms", waiting, "Nessuno mi risponde?")
    stack.wait_for_conversation("sms", waiting)
    return chat, number


def settled(stack: LocalStack, path: str) -> dict[str, Any]:
    """The report once the workers are done with the traffic (acknowledgments count as the worker places
    them): the same answer three times over a second and a half."""
    answers: list[Any] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, answer = stack.get(path)
        assert status == 200
        answers = [*answers[-2:], answer]
        if len(answers) == 3 and answers[0] == answers[1] == answers[2]:
            return dict(answer)
        time.sleep(0.5)
    raise AssertionError(f"{path} kept changing")


def sign_in(browser: Any, url: str, key: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(url + "/console")
    browser.find_element(By.ID, "api-key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()


def show(browser: Any, day: str, grouping: str) -> None:
    """Choose the period and grouping in the form, as a user would, and wait for the charts."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    for field in ("rp-from", "rp-to"):  # a date input's typing order follows the locale: set it as the picker does
        browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, field), day)
    Select(browser.find_element(By.ID, "rp-group")).select_by_value(grouping)
    browser.find_element(By.ID, "rp-show").click()
    WebDriverWait(browser, 20).until(
        lambda b: b.find_element(By.ID, "view-reports").get_attribute("data-loaded") == f"{day}/{day}/{grouping}")


def drawn(browser: Any, chart: str, key: str, series: str) -> float | None:
    from selenium.webdriver.common.by import By

    bar = browser.find_element(By.CSS_SELECTOR, f'#{chart} [data-key="{key}"][data-series="{series}"]')
    value = bar.get_attribute("data-value")
    return None if value == "" else float(value)


def cells(browser: Any, chart: str, key: str) -> list[str]:
    from selenium.webdriver.common.by import By

    row = browser.find_element(By.CSS_SELECTOR, f'#{chart} table tr[data-key="{key}"]')
    return [cell.get_attribute("textContent") for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]


def full_page_screenshot(browser: Any, width: int, name: str) -> None:
    browser.set_window_size(width, 900)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, min(int(height) + 120, 8000))
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / name))


def test_the_reports_view_draws_the_figures_of_real_traffic(local_stack: LocalStack) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    day = business_day(utc_now())
    traffic(local_stack)
    by_channel = settled(local_stack, f"/reports/kpis?from={day}&to={day}&group_by=channel")
    _, by_route = local_stack.get(f"/reports/kpis?from={day}&to={day}&group_by=route")
    _, by_day = local_stack.get(f"/reports/kpis?from={day}&to={day}&group_by=day")
    telegram, sms = by_channel["groups"]["telegram"], by_channel["groups"]["sms"]
    assert telegram["csat"]["distribution"]["4"] >= 1 and telegram["first_response_minutes"]["median"] is not None
    assert sms["conversations"]["opened"] >= 1 and sms["conversations"]["reopened"] >= 1

    browser = _chromium()
    try:
        browser.set_window_size(1280, 1000)
        sign_in(browser, local_stack.api_url, SUPPORT_KEY)  # support only: the reports, not the crisis view
        wait = WebDriverWait(browser, 20)
        wait.until(lambda b: b.find_element(By.ID, "tab-reports").get_attribute("aria-selected") == "true")
        lacks = browser.find_element(By.CSS_SELECTOR, "#view-crisis [data-lacks-scope]")
        assert lacks.get_attribute("data-lacks-scope") == "crisis" and "lacks the crisis scope" in \
            lacks.get_attribute("textContent")
        assert browser.find_elements(By.ID, "inc-title") == []  # the crisis form is not offered to this key

        show(browser, day, "channel")
        for key, figures in (("all", by_channel), ("telegram", telegram), ("sms", sms)):
            assert drawn(browser, "rp-volumes-group", key, "inbound") == figures["messages"]["inbound"]
            assert drawn(browser, "rp-volumes-group", key, "outbound") == figures["messages"]["outbound"]
            assert drawn(browser, "rp-volumes-group", key, "opened") == figures["conversations"]["opened"]
            for chart, section in (("rp-first-response", "first_response_minutes"),
                                   ("rp-resolution", "resolution_minutes")):
                for series in ("median", "p90"):
                    assert drawn(browser, chart, key, series) == figures[section][series], (chart, key, series)
        assert cells(browser, "rp-volumes-group", "telegram")[1:6] == [str(telegram["messages"]["inbound"]),
            str(telegram["messages"]["outbound"]), str(telegram["conversations"]["opened"]),
            str(telegram["conversations"]["resolved"]), str(telegram["conversations"]["reopened"])]
        targets = by_channel["sla_targets"]["policies"]["normal"]
        assert browser.find_element(By.CSS_SELECTOR, "#rp-first-response .rp-target").get_attribute(
            "data-target") == str(targets["first_response_minutes"])
        assert browser.find_element(By.CSS_SELECTOR, "#rp-resolution .rp-target").get_attribute(
            "data-target") == str(targets["resolution_minutes"])
        for score in "12345":
            assert drawn(browser, "rp-csat", score, "answers") == by_channel["csat"]["distribution"][score]
        today = by_day["groups"][day]
        assert drawn(browser, "rp-volumes-day", day, "inbound") == today["messages"]["inbound"]
        assert drawn(browser, "rp-volumes-day", day, "outbound") == today["messages"]["outbound"]
        nps_dots = browser.find_elements(By.CSS_SELECTOR, "#rp-nps circle[data-key]")
        if today["nps"]["score"] is None:
            assert nps_dots == [] and "No NPS answers" in browser.find_element(By.ID, "rp-nps").text
        else:
            assert [float(d.get_attribute("data-value")) for d in nps_dots] == [today["nps"]["score"]]
        tiles = {t.get_attribute("data-tile"): t.find_element(By.TAG_NAME, "dd").text
                 for t in browser.find_elements(By.CSS_SELECTOR, "#rp-tiles [data-tile]")}
        assert tiles["opened"] == str(by_channel["conversations"]["opened"])
        assert tiles["resolved"] == str(by_channel["conversations"]["resolved"])
        assert tiles["inbound"] == str(by_channel["messages"]["inbound"])
        assert tiles["reopened"] == str(by_channel["conversations"]["reopened"])
        assert cells(browser, "rp-volumes-group", "sms")[5] == str(sms["conversations"]["reopened"])

        # Text alternatives: every chart is an image named by its title and description, with a table.
        for chart in browser.find_elements(By.CSS_SELECTOR, "#view-reports figure"):
            picture = chart.find_element(By.CSS_SELECTOR, "svg")
            assert picture.get_attribute("role") == "img"
            for labelled in picture.get_attribute("aria-labelledby").split():
                assert browser.find_element(By.ID, labelled).get_attribute("textContent").strip()
            assert chart.find_element(By.CSS_SELECTOR, "table caption").get_attribute("textContent")
        for field in browser.find_elements(By.CSS_SELECTOR, "#rp-form input, #rp-form select"):
            assert browser.find_elements(By.CSS_SELECTOR, f'label[for="{field.get_attribute("id")}"]')
        full_page_screenshot(browser, 1280, "reports-console.png")

        # Another grouping, then the phone: one column, nothing wider than the screen.
        show(browser, day, "route")
        default = by_route["groups"]["default"]
        assert drawn(browser, "rp-volumes-group", "default", "inbound") == default["messages"]["inbound"]
        assert "route" in browser.find_element(By.CSS_SELECTOR, "#rp-volumes-group h3").text
        browser.set_window_size(390, 900)
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        full_page_screenshot(browser, 390, "reports-console-phone.png")

        # A period the hub refuses: its reason, in the alert region.
        browser.execute_script("arguments[0].value = '2026-02-01'", browser.find_element(By.ID, "rp-from"))
        browser.execute_script("arguments[0].value = '2026-01-01'", browser.find_element(By.ID, "rp-to"))
        browser.find_element(By.ID, "rp-show").click()
        wait.until(lambda b: "to must not be before from" in b.find_element(By.ID, "rp-error").text)
        assert browser.find_element(By.ID, "rp-error").get_attribute("role") == "alert"

        # The keyboard moves between the tabs.
        browser.find_element(By.ID, "tab-reports").send_keys(Keys.ARROW_LEFT)
        assert browser.find_element(By.ID, "tab-crisis").get_attribute("aria-selected") == "true"
        assert browser.switch_to.active_element.get_attribute("id") == "tab-crisis"

        # A crisis-only key: the crisis view works, the reports say which scope is missing.
        browser.find_element(By.ID, "sign-out").click()
        wait.until(lambda b: b.find_element(By.ID, "api-key").is_displayed())
        sign_in(browser, local_stack.api_url, CRISIS_KEY)
        wait.until(lambda b: b.find_element(By.ID, "inc-title").is_displayed())
        lacks = browser.find_element(By.CSS_SELECTOR, "#view-reports [data-lacks-scope]")
        assert lacks.get_attribute("data-lacks-scope") == "support"
        assert browser.find_elements(By.ID, "rp-form") == []
    finally:
        browser.quit()


def test_a_key_with_every_scope_sees_both_views(local_stack: LocalStack) -> None:
    """dev-admin-key carries every scope: both views render, and the sign-in label names both scopes."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _chromium()
    try:
        sign_in(browser, local_stack.api_url, "dev-admin-key")
        wait = WebDriverWait(browser, 20)
        wait.until(lambda b: b.find_element(By.ID, "view-reports").get_attribute("data-loaded"))
        assert browser.find_elements(By.CSS_SELECTOR, "[data-lacks-scope]") == []
        label = browser.find_element(By.CSS_SELECTOR, "label[for=api-key]").get_attribute("textContent")
        assert label == "API key (scope crisis or support)"
    finally:
        browser.quit()
