"""Test data. Chats are made through the services, as the product makes them."""

import itertools

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from chat import services
from chat.models import Visitor, hash_token
from tickets.models import Department

_tokens = itertools.count()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw")


class AgentFactory(UserFactory):
    @factory.post_generation
    def agent_permission(user, create, extracted, **kwargs):
        user.user_permissions.add(Permission.objects.get(codename="act_as_agent", content_type__app_label="chat"))


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"Department {n}")


class VisitorFactory(factory.django.DjangoModelFactory):
    """A visitor whose raw token is kept on the object as ``.token``."""

    class Meta:
        model = Visitor

    token = factory.LazyFunction(lambda: f"test-token-{next(_tokens):08d}-xxxxxxxxxxxxxxxx")
    token_hash = factory.LazyAttribute(lambda o: hash_token(o.token))

    @classmethod
    def _create(cls, model_class, *args, token, **kwargs):
        visitor = super()._create(model_class, *args, **kwargs)
        visitor.token = token
        return visitor


def start_chat(visitor=None, *, text="Hello, I need help", client_id="first", department=None, **kwargs):
    """A queued chat started by ``visitor`` (a new one if not given), through the service."""
    visitor = visitor or VisitorFactory()
    result = services.chat_start(
        visitor_id=visitor.pk, name=kwargs.pop("name", "Sam Visitor"), email=kwargs.pop("email", "sam@example.com"),
        department_id=department.pk if department else None, text=text, client_id=client_id, **kwargs,
    )
    return result.chat
