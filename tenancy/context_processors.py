from django.http import HttpRequest

from .selectors import membership_list_for_user


def organization(request: HttpRequest) -> dict[str, object]:
    membership = getattr(request, "membership", None)
    return {
        "organization": getattr(request, "organization", None),
        "membership": membership,
        "memberships": membership_list_for_user(user=request.user)
        if hasattr(request, "user")
        else [],
    }
