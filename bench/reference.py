"""The bare reference the lookup target is set against: DRF, one indexed query, no
authentication, a 10-field serializer. Served only by the benchmark's URL configuration."""

from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView
from rest_framework.permissions import AllowAny

from users.models import User

FIELDS = ["id", "username", "email", "email_verified", "phone_number", "phone_verified", "first_name",
          "last_name", "is_active", "created_at"]


class ReferenceUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = FIELDS


class ReferenceUserView(RetrieveAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = ReferenceUserSerializer
    queryset = User.objects.only(*FIELDS)
