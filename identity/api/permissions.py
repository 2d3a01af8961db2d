from rest_framework.permissions import SAFE_METHODS, BasePermission


class HasScope(BasePermission):
    """The credential holds the scope the view asks for this action.

    Views name `read_scope` and `write_scope`, and may override single actions in `action_scopes`.
    """

    message = "This credential lacks the scope this call needs."

    def has_permission(self, request, view):
        credential = request.auth
        if credential is None or not getattr(request.user, "is_authenticated", False):
            return False
        scope = self.required_scope(request, view)
        if scope is None:  # a view that names no scope is closed, not open
            return False
        if scope not in credential.scopes:
            self.message = f"This credential lacks the '{scope}' scope; ask an operator to grant it."
            return False
        return True

    @staticmethod
    def required_scope(request, view):
        action_scopes = getattr(view, "action_scopes", {})
        if getattr(view, "action", None) in action_scopes:
            return action_scopes[view.action]
        if request.method in SAFE_METHODS:
            return getattr(view, "read_scope", None)
        return getattr(view, "write_scope", None)


class SchemaReader(BasePermission):
    """Staff signed in to the admin, or any API client of any scope."""

    message = "Sign in to the admin, or send an API client token, to read the API description."

    def has_permission(self, request, view):
        user = request.user
        return bool(getattr(user, "is_authenticated", False) and (request.auth is not None or user.is_staff))
