"""The admin's change lists read from a replica when there is one (`identity.db_routing`).

A list is a search: a row saved a moment ago may show a moment later. Change forms, saves,
actions and everything else read and write the primary (an action is a POST: the primary too).
"""

from django.contrib.admin.views.main import ChangeList

from identity.db_routing import read_replica


class ReplicaChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        alias = read_replica()
        self.root_queryset = self.root_queryset.using(alias)  # the unfiltered total, when shown
        return super().get_queryset(request, exclude_parameters).using(alias)


class ReplicaChangeListAdmin:
    """A ModelAdmin mixin: its change list reads from a replica."""

    def get_changelist(self, request, **kwargs):
        return ReplicaChangeList
