{#- The ship-by and deliver-by SLAs of a channel, in hours after the order was placed
    (vars fulfillment_ship_sla_hours / fulfillment_delivery_sla_hours in dbt_project.yml, one
    entry per channel; a channel without one gets fulfillment_ship_sla_default_hours, or no
    delivery promise). A channel's own promise (Amazon's LatestShipDate / LatestDeliveryDate)
    wins over these (marts/fulfillment/order_fulfillment.sql). -#}
{% macro ship_sla_hours(channel_expr) -%}
    case {{ channel_expr }}
    {%- for channel, hours in var('fulfillment_ship_sla_hours', {}).items() %}
        when '{{ channel }}' then {{ hours }}
    {%- endfor %}
        else {{ var('fulfillment_ship_sla_default_hours', 48) }}
    end
{%- endmacro %}

{% macro delivery_sla_hours(channel_expr) -%}
    {%- set slas = var('fulfillment_delivery_sla_hours', {}) -%}
    {%- if slas %}
    case {{ channel_expr }}
    {%- for channel, hours in slas.items() %}
        when '{{ channel }}' then {{ hours }}
    {%- endfor %}
        else null
    end
    {%- else -%}
    cast(null as integer)
    {%- endif %}
{%- endmacro %}

{#- Hours between two instants, to the second (null when either is null). -#}
{% macro hours_between(start_expr, end_expr) -%}
    round(date_diff('second', {{ start_expr }}, {{ end_expr }}) / 3600.0, 4)
{%- endmacro %}
