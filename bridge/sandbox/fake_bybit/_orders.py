"""The account and order endpoints: personal info, order detail, the pending-order list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.sandbox.fake_bybit._params import (
    _int_param,
    _is_digits,
    _optional_int,
    _optional_str,
    _P2PError,
    _page,
    _params_error,
    _str_param,
    _time_param,
)
from bridge.sandbox.fake_bybit._templates import _ORDER_INFO, _PAYMENT_TERM, _PENDING_ITEM, _PERSONAL_INFO
from bridge.sandbox.fake_bybit._world import FakeOrder, _World
from bridge.sandbox.fake_bybit.constants import (
    CODE_ORDER_CLOSED,
    CODE_ORDER_NOT_FOUND,
    FINAL_STATUSES,
    PAY_WINDOW_SECONDS,
    PENDING_STATUSES,
    UNREAD_COUNT_FIELDS,
)


class _OrderEndpoints(_World):
    """The account and order endpoints (body → result; :class:`_P2PError` for refusals)."""

    _page_size_cap: int
    serve_unread_counts: bool

    def _order(self, body: Mapping[str, Any]) -> FakeOrder:
        """The order named by ``orderId``: a required string of digits."""
        order_id = _str_param(body, "orderId")
        if not _is_digits(order_id):
            raise _params_error()
        order = self._orders.get(order_id)
        if order is None:
            raise _P2PError(CODE_ORDER_NOT_FOUND, "The order does not exist.")
        return order

    def _open_order(self, body: Mapping[str, Any]) -> FakeOrder:
        """The order a chat send is about; a finished one takes no more messages."""
        order = self._order(body)
        if order.status in FINAL_STATUSES:
            raise _P2PError(CODE_ORDER_CLOSED, "The order is finished and takes no more messages.")
        return order

    def _pay_seconds_left(self, order: FakeOrder) -> int:
        if order.status != 10:
            return 0
        return max(0, PAY_WINDOW_SECONDS - (self.server_time_ms() - order.create_ms) // 1000)

    def _real_names(self, order: FakeOrder) -> tuple[str, str]:
        """(seller, buyer) real names: side 1 means the self user sells."""
        target = self._counterparties[order.target_nick]
        if order.side == 1:
            return self._self.real_name, target.real_name
        return target.real_name, self._self.real_name

    def _personal_info(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """No parameters. Types as the docs' example: ``kycLevel``/``recentRate`` numbers, ``accountId`` text."""
        user = self._self
        return _PERSONAL_INFO | {
            "nickName": user.nick,
            "totalFinishCount": len(self._orders),
            "realName": user.real_name,
            "accountId": user.account_id,
            "paymentCount": len(self._payment_types),
            "realNameMask": user.real_name[:6] + "***",
            "userId": user.user_id,
            "realNameEn": user.real_name,
        }

    def _order_info(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``orderId`` (string, required)."""
        order = self._order(body)
        target = self._counterparties[order.target_nick]
        seller_name, buyer_name = self._real_names(order)
        term = self._payment_term(order, seller_name)
        seconds_left = str(self._pay_seconds_left(order))
        unread = str(self._unread(order_id=order.id))
        return self._counted(
            _ORDER_INFO
            | {
                "id": order.id,
                "side": order.side,
                "itemId": order.item_id,
                "accountId": self._self.account_id,
                "userId": self._self.user_id,
                "nickName": self._self.nick,
                "makerUserId": self._self.user_id,
                "targetAccountId": target.account_id,
                "targetUserId": target.user_id,
                "targetNickName": target.nick,
                "targetUserMaskId": target.mask_id,
                "sellerRealName": seller_name,
                "buyerRealName": buyer_name,
                "tokenId": order.token,
                "tokenName": order.token,
                "currencyId": order.currency,
                "price": order.price,
                "quantity": order.quantity,
                "amount": order.amount,
                "payCode": order.id[-6:],
                "paymentType": order.payment_type,
                "status": order.status,
                "createDate": str(order.create_ms),
                "paymentTermList": [term],
                "transferLastSeconds": seconds_left,
                "confirmedPayTerm": term,
                "unreadMsgCount": unread,
                "updateDate": str(order.create_ms),
                "selfUnreadMsgCount": unread,
                "middleToken": order.token,
                "notifyTokenId": order.token,
                "notifyTokenQuantity": order.quantity,
                "chainWithdrawLastSeconds": seconds_left,
                "chainTransferLastSeconds": seconds_left,
                "totalCurrencyAmount": order.amount,
                "realOrderStatus": order.status,
            }
        )

    def _counted(self, answer: dict[str, Any]) -> dict[str, Any]:
        """``answer`` as it is, or without its unread counts while they are not served."""
        if not self.serve_unread_counts:
            for name in UNREAD_COUNT_FIELDS:
                answer.pop(name, None)
        return answer

    @staticmethod
    def _payment_term(order: FakeOrder, seller_name: str) -> dict[str, Any]:
        """The seller's payment method: ``paymentType`` a number, its config's ``paymentType`` text."""
        config = _PAYMENT_TERM["paymentConfigVo"] | {
            "paymentType": str(order.payment_type),
            "paymentName": order.payment,
        }
        return _PAYMENT_TERM | {
            "id": order.item_id,
            "realName": seller_name,
            "paymentType": order.payment_type,
            "bankName": order.payment,
            "accountNo": "4276000011112222",
            "visible": 1,
            "online": "0",
            "paymentTemplateVersion": 1,
            "paymentConfigVo": config,
        }

    def _pending_orders(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``page``, ``size`` ≤ 30 (integers, required); optional ``status``/``side`` (integers),
        ``tokenId``/``beginTime``/``endTime`` (strings; times in ms); null counts as absent."""
        page = _int_param(body, "page")
        size = _int_param(body, "size", high=self._page_size_cap)
        status = _optional_int(body, "status", PENDING_STATUSES)
        side = _optional_int(body, "side", (0, 1))
        token = _optional_str(body, "tokenId")
        begin = _time_param(body, "beginTime")
        end = _time_param(body, "endTime")
        pending = [
            order
            for order in reversed(self._orders.values())
            if order.status in PENDING_STATUSES
            and status in (None, order.status)
            and side in (None, order.side)
            and token in (None, "", order.token)
            and (begin is None or order.create_ms >= begin)
            and (end is None or order.create_ms <= end)
        ]
        return {"count": len(pending), "items": [self._pending_item(order) for order in _page(pending, page, size)]}

    def _pending_item(self, order: FakeOrder) -> dict[str, Any]:
        seller_name, buyer_name = self._real_names(order)
        unread = str(self._unread(order_id=order.id))
        return self._counted(
            _PENDING_ITEM
            | {
                "id": order.id,
                "side": order.side,
                "tokenId": order.token,
                "amount": order.amount,
                "currencyId": order.currency,
                "price": order.price,
                "notifyTokenQuantity": order.quantity,
                "notifyTokenId": order.token,
                "targetNickName": order.target_nick,
                "targetUserId": order.target_user_id,
                "targetUserMaskId": order.target_mask_id,
                "status": order.status,
                "selfUnreadMsgCount": unread,
                "createDate": str(order.create_ms),
                "transferLastSeconds": str(self._pay_seconds_left(order)),
                "userId": self._self.user_id,
                "sellerRealName": seller_name,
                "buyerRealName": buyer_name,
                "unreadMsgCount": unread,
            }
        )
