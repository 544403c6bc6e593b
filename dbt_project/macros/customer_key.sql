{#- Person key: md5 of the normalised e-mail, else <channel>:<customer id>, else null (anonymous). -#}
{% macro customer_key(channel_expr, email_expr, customer_id_expr) -%}
    case
        when {{ email_expr }} is not null then md5({{ email_expr }})
        when {{ customer_id_expr }} is not null then {{ channel_expr }} || ':' || {{ customer_id_expr }}
    end
{%- endmacro %}

{#- Base-currency money: local amount x rate, rounded to 4 decimals. -#}
{% macro to_base(amount_expr, rate_expr) -%}
    cast(round(({{ amount_expr }}) * ({{ rate_expr }}), 4) as decimal(18, 4))
{%- endmacro %}
