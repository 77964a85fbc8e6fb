from django.urls import path

from . import token_views

app_name = "tenancy-api"

urlpatterns = [
    path("tokens/", token_views.ApiTokenListCreateApi.as_view(), name="token_list"),
    path("tokens/scopes/", token_views.ScopeListApi.as_view(), name="token_scopes"),
    path("tokens/<int:token_id>/", token_views.ApiTokenDetailApi.as_view(), name="token_detail"),
    path(
        "tokens/<int:token_id>/revoke/",
        token_views.ApiTokenRevokeApi.as_view(),
        name="token_revoke",
    ),
]
