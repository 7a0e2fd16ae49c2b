"""Social care on both backends: public conversations and their post, thread ownership, revised messages."""

from __future__ import annotations

from chalicelib.core.ports import Repositories
from tests.contract.test_repositories import conversation


def test_a_public_conversation_is_read_back_with_its_post(repos: Repositories) -> None:
    public = conversation("cnv_pub", public=True, post_id="106445795700891_122103456789012345",
                          permalink="https://www.facebook.com/acmecare/posts/pfbid02Xyz123")
    assert repos.conversations.create(public) is True
    assert repos.conversations.get("cnv_pub", consistent=True) == public
    found = repos.conversations.get_with_messages("cnv_pub")
    assert found is not None and found[0].to_api()["public"] is True


def test_a_direct_conversation_is_not_public(repos: Repositories) -> None:
    repos.conversations.create(conversation("cnv_direct"))
    stored = repos.conversations.get("cnv_direct", consistent=True)
    assert stored is not None and stored.public is False and stored.post_id is None
    assert stored.to_api()["public"] is False
