"""A task whose headline metric names no key that its evaluate() returns."""

from harness.registry import register_task
from tasks.member import Member


@register_task
class MemberTypo(Member):
    key = "member-typo"
    main_metric = "member_accuracy"
